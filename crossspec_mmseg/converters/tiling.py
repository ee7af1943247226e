"""Shared tiling and writing for all converters.

A converter describes its source as :class:`SourceImage` records (how to read
an RGB window, how to rasterise its label windows, and the manifest fields);
:func:`convert_sources` tiles them, drops background, resizes, and writes
``images/``, ``masks/`` (plus any extra mask folders) and ``manifest.csv``.

Reliability: every file is written atomically (temp + rename), so a tile that
exists is complete; a per-source journal (``.journal/<source>.csv``) records
finished sources, so a rerun after an interruption skips them and resumes
inside the interrupted one; ``manifest.csv`` is written last, atomically.

Quirks: a source may count what it found odd in its download
(:attr:`SourceImage.quirks`, e.g. pixels in two class channels); the counts
are summed into :attr:`ConversionSummary.quirks` and kept beside the journal
(``.journal/<source>.quirks.json``, written before ``<source>.csv``), so a
resumed source reports them without being read again.

With ``workers > 1`` sources are tiled in forked processes, one source each;
their rows are gathered in source order, so tiles, journals and manifest are
the same bytes whatever the number of workers.
"""
from __future__ import annotations

import contextlib
import csv
import json
import logging
import multiprocessing
import os
import os.path as osp
import warnings
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from typing import Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple

import cv2
import numpy as np
from tqdm import tqdm

from ..slides import (
    SlideSource,
    WindowGrid,
    check_mpp,
    check_positive,
    tissue_fraction,
    to_tile,
)
from ..structures.manifest import MANIFEST_COLUMNS, write_manifest
from ..utils.atomic import atomic_path, remove_stale_temporaries
from .errors import BadDownloadError, BadInputError

__all__ = ['TilingConfig', 'SourceImage', 'ConversionSummary', 'SkippedInputs', 'build_sources',
           'convert_sources', 'write_png']

logger = logging.getLogger(__name__)

#: ``(x, y, w, h) -> uint8 or uint16 (h, w)`` label window at full resolution.
LabelFn = Callable[[int, int, int, int], np.ndarray]
#: Manifest column of a label folder whose column is not the folder's own name.
LABEL_COLUMNS = {'masks': 'mask', 'instances': 'instance', 'masks_contour': 'mask_contour'}


@dataclass(frozen=True)
class TilingConfig:
    """How sources are cut into tiles.

    Args:
        tile: Output tile side in pixels.
        overlap: Fraction of the window shared by neighbours (0.5 = 50 %).
        scale: Resize factor; the full-resolution window side is
            ``round(tile / scale)``.
        mpp: Target um/px; replaces ``scale`` by ``source um/px / mpp`` for
            each source (whose um/px must then be known).
        min_tissue: Keep a tile when at least this fraction of its pixels
            has HSV saturation above ``saturation_threshold`` (the Kaggle
            HuBMAP background test). 0 keeps every tile.
        saturation_threshold: Saturation (0-255) that counts as tissue.
    """

    tile: int = 512
    overlap: float = 0.5
    scale: float = 1.0
    min_tissue: float = 0.05
    saturation_threshold: int = 40
    mpp: Optional[float] = None

    def __post_init__(self) -> None:
        self.grid  # validates tile, overlap and scale (one line naming the bad value)
        if self.mpp is not None:
            check_positive('mpp', self.mpp)

    @property
    def grid(self) -> WindowGrid:
        """The window grid at ``scale`` (what ``mpp`` replaces per source)."""
        return WindowGrid(self.tile, self.overlap, self.scale)

    def grid_for(self, source: 'SourceImage') -> WindowGrid:
        """This source's grid: at ``mpp`` from the source's um/px (which must
        then be known), else at ``scale``."""
        if self.mpp is None:
            return self.grid
        source_mpp = check_mpp(source.name, source.mpp, 'its metadata')
        return WindowGrid.from_mpp(self.tile, self.overlap, source_mpp, self.mpp)

    def tile_mpp(self, source: 'SourceImage') -> Optional[float]:
        """The um/px of this source's tiles (None when its um/px is unknown)."""
        return self.mpp or (source.mpp / self.scale if source.mpp else None)

    def for_source(self, source: 'SourceImage') -> 'TilingConfig':
        """Deprecated: :meth:`grid_for` (this tiling with the source's scale)."""
        _deprecated('TilingConfig.for_source(source)', 'grid_for(source)')
        return replace(self, scale=self.grid_for(source).scale)

    @property
    def window(self) -> int:
        """Deprecated: ``grid.window``."""
        _deprecated('TilingConfig.window', 'grid.window')
        return self.grid.window

    @property
    def stride(self) -> int:
        """Deprecated: ``grid.stride``."""
        _deprecated('TilingConfig.stride', 'grid.stride')
        return self.grid.stride


def _deprecated(old: str, new: str) -> None:
    warnings.warn(f'{old} is deprecated (removed in the next release): use TilingConfig.{new}',
                  DeprecationWarning, stacklevel=3)


@dataclass
class SourceImage:
    """One image or slide to tile, as a converter describes it.

    Args:
        name: Unique stem for its tiles and journal (e.g. ``aaa6a05cc``).
        size: ``(height, width)`` at full resolution.
        open_reader: Returns a :class:`~crossspec_mmseg.slides.SlideSource`
            (a slide reader, or ``raster.ArrayReader`` over an image), opened
            only when the source has work left.
        labels: Mask folder -> function rasterising that label window;
            ``'masks'`` is required. Its manifest column is the folder's name
            or the one in :data:`LABEL_COLUMNS`. Labels are resampled with
            nearest neighbour (uint8 or uint16 PNGs).
        fields: Manifest fields (dataset, species, organ, slide, case, split, fold).
        pad_values: Fill of a label window clipped at the border (default
            255, ignore; e.g. 0 for an instance map, where 255 is an id).
        mpp: Level-0 um/px (None when unknown).
        quirks: Called once the source's tiles are written (in the process
            that wrote them): its quirk counts, ``{what: how many}``.
    """

    name: str
    size: Tuple[int, int]
    open_reader: Callable[[], SlideSource]
    labels: Dict[str, LabelFn]
    fields: Dict[str, object]
    pad_values: Dict[str, int] = field(default_factory=dict)
    mpp: Optional[float] = None
    quirks: Optional[Callable[[], Mapping[str, int]]] = None


class SkippedInputs:
    """With ``--skip-bad``: the images/slides left out and why (``skipped.csv``)."""

    def __init__(self) -> None:
        self.rows: List[Tuple[str, str]] = []

    def add(self, item: str, error: BadInputError) -> None:
        logger.warning('skipping %s: %s', item, error)
        self.rows.append((item, str(error)))

    def write(self, out_dir: str) -> str:
        path = osp.join(out_dir, 'skipped.csv')
        with atomic_path(path) as tmp, open(tmp, 'w', newline='') as f:
            writer = csv.writer(f)
            writer.writerow(['item', 'error'])
            writer.writerows(self.rows)
        return path


@dataclass
class ConversionSummary:
    """What a conversion wrote, for the closing message and tests."""

    written: Counter = field(default_factory=Counter)
    skipped_background: Counter = field(default_factory=Counter)
    resumed: int = 0
    sources: int = 0
    manifest: str = ''
    skipped_bad: List[Tuple[str, str]] = field(default_factory=list)
    skip_report: str = ''
    quirks: Counter = field(default_factory=Counter)

    def __str__(self) -> str:
        species = sorted(set(self.written) | set(self.skipped_background))
        per = ', '.join(f'{s}: {self.written[s]} written / {self.skipped_background[s]} '
                        'background' for s in species)
        text = (f'{self.sources} sources -> {sum(self.written.values())} tiles ({per}); '
                f'{self.resumed} tiles already present; manifest: {self.manifest}')
        if self.skip_report:
            text += f'; {len(self.skipped_bad)} bad inputs skipped (listed in {self.skip_report})'
        if self.quirks:
            found = sorted(self.quirks.items())
            text += '; quirks: ' + ', '.join(f'{what}: {n}' for what, n in found)
        return text


def build_sources(items: Iterable, make_source: Callable[[object], SourceImage],
                  name_of: Callable[[object], str],
                  skipped: Optional[SkippedInputs]) -> List[SourceImage]:
    """``make_source(item)`` for each item; with ``skipped``, items that raise
    :class:`BadInputError` are recorded there instead of stopping the run."""
    sources = []
    for item in items:
        try:
            sources.append(make_source(item))
        except BadInputError as err:
            if skipped is None:
                raise
            skipped.add(name_of(item), err)
    return sources


def write_png(path: str, array: np.ndarray) -> None:
    """Write a PNG atomically (RGB arrays are converted to OpenCV's BGR)."""
    data = array[..., ::-1] if array.ndim == 3 else array
    with atomic_path(path) as tmp:
        if not cv2.imwrite(tmp, np.ascontiguousarray(data)):
            raise OSError(f'could not write {path}')


class _TileWriter:
    """Writes one source's tiles and rows; skips tiles that already exist."""

    def __init__(self, out_dir: str, tiling: TilingConfig, label_dirs: Sequence[str]) -> None:
        self.out_dir, self.tiling, self.label_dirs = out_dir, tiling, list(label_dirs)

    def tile_paths(self, stem: str) -> Dict[str, str]:
        paths = {'image': f'images/{stem}.png'}
        paths.update({d: f'{d}/{stem}.png' for d in self.label_dirs})
        return paths

    def exists(self, stem: str) -> bool:
        return all(osp.isfile(osp.join(self.out_dir, p)) for p in self.tile_paths(stem).values())

    def write(self, stem: str, image: np.ndarray, labels: Dict[str, np.ndarray]) -> None:
        paths = self.tile_paths(stem)
        # Labels first, image last: the image's presence marks a complete tile.
        for folder, mask in labels.items():
            write_png(osp.join(self.out_dir, paths[folder]), mask)
        write_png(osp.join(self.out_dir, paths['image']), image)

    def remove(self, stems: Iterable[str]) -> None:
        """Delete these tiles (image first, so none looks complete meanwhile)."""
        for stem in stems:
            for path in self.tile_paths(stem).values():
                with contextlib.suppress(FileNotFoundError):
                    os.remove(osp.join(self.out_dir, path))


def _tile_source(source: SourceImage, writer: _TileWriter, tiling: TilingConfig,
                 summary: ConversionSummary, progress: tqdm, stems: List[str]) -> List[dict]:
    """Tile one source; its manifest rows. ``stems`` collects every tile name
    visited (to remove them if the source turns out bad)."""
    height, width = source.size
    grid = tiling.grid_for(source)
    window, tile = grid.window, grid.tile
    species = str(source.fields.get('species', ''))
    mpp = tiling.tile_mpp(source)
    rows, reader = [], None
    try:
        for x, y in grid.windows((height, width)):
            progress.update(1)
            stem = f'{source.name}_x{x}_y{y}'
            stems.append(stem)
            w, h = min(window, width - x), min(window, height - y)
            row = dict(source.fields, image=f'images/{stem}.png',
                       x=x, y=y, width=w, height=h, scale=grid.scale,
                       mpp='' if mpp is None else round(mpp, 6))
            row.update({LABEL_COLUMNS.get(d, d): f'{d}/{stem}.png'
                        for d in writer.label_dirs})
            if writer.exists(stem):
                summary.resumed += 1
                summary.written[species] += 1
                rows.append(row)
                continue
            reader = reader or source.open_reader()
            level = grid.level(reader)
            rgb = reader.read(x, y, window, window, level)
            if (tiling.min_tissue > 0 and tissue_fraction(
                    rgb, tiling.saturation_threshold) < tiling.min_tissue):
                summary.skipped_background[species] += 1
                continue
            labels = {}
            for folder, label_fn in source.labels.items():
                mask = label_fn(x, y, w, h)
                if mask.shape != (h, w):
                    raise BadInputError(f'{source.name}: {folder} window {mask.shape} differs '
                                        f'from image window {(h, w)} at x={x}, y={y}; '
                                        'its label file does not match the image size')
                labels[folder] = to_tile(mask, window, tile,
                                         source.pad_values.get(folder, 255),
                                         cv2.INTER_NEAREST)
            writer.write(stem, to_tile(rgb, reader.level_side(window, level), tile), labels)
            summary.written[species] += 1
            rows.append(row)
    finally:
        if reader is not None:
            reader.close()
    return rows


def _window_count(source: SourceImage, tiling: TilingConfig) -> int:
    return tiling.grid_for(source).count(source.size)


#: One source's outcome: its manifest rows (None if bad), counts, tile names
#: visited and the error that made it bad.
SourceResult = Tuple[Optional[List[dict]], ConversionSummary, List[str], Optional[BadInputError]]


def _convert_source(source: SourceImage, out_dir: str, writer: _TileWriter,
                    tiling: TilingConfig, progress: tqdm) -> SourceResult:
    """Tile one source and journal it when it is done."""
    counts, stems = ConversionSummary(), []
    try:
        rows = _tile_source(source, writer, tiling, counts, progress, stems)
    except BadInputError as err:
        return None, counts, stems, err  # tiles written so far stay: a rerun resumes
    if source.quirks is not None:
        counts.quirks.update(source.quirks())
        _write_quirks(out_dir, source.name, counts.quirks)
    _write_journal(_journal_path(out_dir, source.name), rows)
    return rows, counts, stems, None


#: ``(sources, out_dir, writer, tiling)`` the forked workers inherit.
_FORKED: tuple = ()


def _forked_source(index: int) -> SourceResult:
    cv2.setNumThreads(1)  # one core per worker
    sources, out_dir, writer, tiling = _FORKED
    with tqdm(disable=True) as progress:
        return _convert_source(sources[index], out_dir, writer, tiling, progress)


def _source_results(sources: List[SourceImage], out_dir: str, writer: _TileWriter,
                    tiling: TilingConfig, progress: tqdm, workers: int
                    ) -> Iterator[SourceResult]:
    """Each source's result, in order: tiled here one by one, or by ``workers``
    forked processes (progress advanced as each result is taken)."""
    if workers <= 1 or len(sources) <= 1:
        for source in sources:
            yield _convert_source(source, out_dir, writer, tiling, progress)
        return
    global _FORKED
    _FORKED = (sources, out_dir, writer, tiling)
    pool = ProcessPoolExecutor(min(workers, len(sources)),
                               mp_context=multiprocessing.get_context('fork'))
    try:
        futures = [pool.submit(_forked_source, i) for i in range(len(sources))]
        for source, future in zip(sources, futures):
            result = future.result()
            progress.update(_window_count(source, tiling))
            yield result
    finally:
        pool.shutdown(cancel_futures=True)  # an error stops the sources not started
        _FORKED = ()


def _journal_path(out_dir: str, name: str) -> str:
    return osp.join(out_dir, '.journal', f'{name}.csv')


def _read_journal(path: str) -> Optional[List[dict]]:
    if not osp.isfile(path):
        return None
    with open(path, newline='') as f:
        return list(csv.DictReader(f))


def _quirks_path(out_dir: str, name: str) -> str:
    return osp.join(out_dir, '.journal', f'{name}.quirks.json')


def _read_quirks(out_dir: str, name: str) -> Counter:
    """A journaled source's quirk counts (none when it has no sidecar)."""
    path = _quirks_path(out_dir, name)
    if not osp.isfile(path):
        return Counter()
    with open(path) as f:
        return Counter(json.load(f))


def _write_quirks(out_dir: str, name: str, quirks: Mapping[str, int]) -> None:
    with atomic_path(_quirks_path(out_dir, name)) as tmp, open(tmp, 'w') as f:
        json.dump({k: int(v) for k, v in quirks.items()}, f, sort_keys=True)


def _write_journal(path: str, rows: List[dict]) -> None:
    keys = list(MANIFEST_COLUMNS) + sorted({k for r in rows for k in r} - set(MANIFEST_COLUMNS))
    with atomic_path(path) as tmp, open(tmp, 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)


def _check_previous_tiling(out_dir: str, tiling: TilingConfig) -> None:
    """Refuse to resume into a folder converted with other tiling settings."""
    path = osp.join(out_dir, '.journal', 'tiling.json')
    settings = asdict(tiling)
    if settings['mpp'] is None:  # folders converted before --mpp existed still resume
        del settings['mpp']
    current = json.dumps(settings, sort_keys=True)
    if osp.isfile(path):
        with open(path) as f:
            previous = f.read()
        if previous != current:
            raise BadDownloadError(f'{out_dir} was converted with tiling {previous}, now '
                                   f'{current}: use a new output folder (or delete it) to '
                                   'change tiling')
        return
    with atomic_path(path) as tmp, open(tmp, 'w') as f:
        f.write(current)


def _check_label_options(out_dir: str, options: Mapping[str, object]) -> None:
    """Refuse to resume a label folder written with other options (e.g. another
    contour width); a label folder new to the output is fine."""
    path = osp.join(out_dir, '.journal', 'labels.json')
    previous = {}
    if osp.isfile(path):
        with open(path) as f:
            previous = json.load(f)
    changed = sorted(k for k in options if k in previous and previous[k] != options[k])
    if changed:
        raise BadDownloadError(f'{out_dir}: {changed[0]}/ was written with '
                               f'{previous[changed[0]]}, now {options[changed[0]]}: use a new '
                               'output folder (or delete that folder) to change it')
    merged = dict(previous, **options)
    if merged != previous:
        with atomic_path(path) as tmp, open(tmp, 'w') as f:
            json.dump(merged, f, sort_keys=True)


def convert_sources(sources: Iterable[SourceImage], out_dir: str, tiling: TilingConfig,
                    desc: str = 'tiling', skipped: Optional[SkippedInputs] = None,
                    label_options: Optional[Mapping[str, object]] = None,
                    workers: int = 1) -> ConversionSummary:
    """Tile every source into ``out_dir`` and write ``manifest.csv``.

    Args:
        sources: The images/slides, each with its label functions.
        out_dir: Output dataset folder.
        tiling: Tile size, overlap, scale and background test.
        desc: Progress bar label.
        skipped: With it (``--skip-bad``), a source raising
            :class:`BadInputError` is recorded, its tiles removed, and the run
            goes on; the list is written to ``out_dir/skipped.csv``.
        label_options: Per label folder, the options it was made with (e.g.
            ``{'masks_contour': {'width': 2}}``); a resume with other options
            is refused, as a change of tiling is.
        workers: Sources tiled at once, in forked processes (one source
            each); the output is the same whatever their number.

    Returns:
        The summary (tiles written and skipped per species).
    """
    def resolvable(source: SourceImage) -> SourceImage:
        tiling.grid_for(source)  # at tiling.mpp, a source of unknown um/px is bad
        return source
    sources = build_sources(sources, resolvable, lambda s: s.name, skipped)
    names = [s.name for s in sources]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise BadInputError(f'duplicate source names {duplicates[:5]}: their tile names would '
                            'collide; rename one of each pair in the download')
    if not sources:
        report = f' (see {skipped.write(out_dir)})' if skipped else ''
        raise BadInputError(f'nothing to convert into {out_dir}: no usable image or slide'
                            + report)
    label_dirs = sorted({d for s in sources for d in s.labels})
    if 'masks' not in label_dirs:
        raise ValueError('every source needs a "masks" label function')
    _check_previous_tiling(out_dir, tiling)
    _check_label_options(out_dir, label_options or {})
    remove_stale_temporaries(out_dir)  # left by a killed run
    writer = _TileWriter(out_dir, tiling, label_dirs)
    columns = {LABEL_COLUMNS.get(d, d) for d in label_dirs}
    summary = ConversionSummary(sources=len(sources))
    total = sum(_window_count(s, tiling) for s in sources)
    journaled = {}
    for source in sources:
        done = _read_journal(_journal_path(out_dir, source.name))
        if done is not None and (not done or columns <= set(done[0])):
            journaled[source.name] = done  # else: before a label kind was added: tile again
    rows: List[dict] = []
    todo = [s for s in sources if s.name not in journaled]
    with tqdm(total=total, desc=desc, unit='tile', dynamic_ncols=True,
              disable=None) as progress, contextlib.closing(
                  _source_results(todo, out_dir, writer, tiling, progress, workers)) as results:
        for source in sources:
            done = journaled.get(source.name)
            if done is not None:
                progress.update(_window_count(source, tiling))
                species = str(source.fields.get('species', ''))
                summary.written[species] += len(done)
                summary.resumed += len(done)
                summary.quirks.update(_read_quirks(out_dir, source.name))
                rows.extend({**row, **source.fields} for row in done)  # metadata may change
                continue
            source_rows, counts, stems, err = next(results)
            if err is not None:
                if skipped is None:
                    raise err
                skipped.add(source.name, err)
                writer.remove(stems)  # a skipped source leaves no tiles
                continue
            summary.written.update(counts.written)
            summary.skipped_background.update(counts.skipped_background)
            summary.resumed += counts.resumed
            summary.quirks.update(counts.quirks)
            rows.extend(source_rows)
    report = osp.join(out_dir, 'skipped.csv')
    if skipped is not None:
        summary.skipped_bad, summary.skip_report = skipped.rows, skipped.write(out_dir)
    elif osp.exists(report):  # from an earlier --skip-bad run, now stale
        os.remove(report)
    summary.manifest = osp.join(out_dir, 'manifest.csv')
    write_manifest(summary.manifest, rows)
    logger.info(str(summary))
    return summary
