"""Predicting many slides in one call (``tools/infer_slide.py``): which slides,
where each output goes, which slides are already done, and each slide's
prediction and outputs.

One naming rule decides every path of a call (:func:`plan_slides`): a slide's
name is its file name less its extension, a multi-part one (``.ome.tif``) as
one; in a folder, the mask is ``<name>.tif`` and the other outputs sit
beside it (``<name>.geojson``, ``<name>.ome.tif``, ``<name>_objects.csv``,
``<name>.csv``, a typed model's ``<name>_nuclei.json``). Before anything is
written, the call is refused when two outputs would share a path, or an
output would be a slide, naming both and the path. A slide whose outputs all
exist is skipped (``done``); a record beside its mask
(``.<mask>.slide.json``: the slide's file name and size) makes sure the
outputs found are this slide's, not those of another slide of the same name
from another call.

Each slide is opened once (:func:`predict_slide`): its um/px decides the
reading resolution (:meth:`SlideSettings.read_mpp`), and the open slide goes
to :func:`~.slide_inference.infer_slide`.
"""
from __future__ import annotations

import csv
import glob
import json
import os
import os.path as osp
from dataclasses import dataclass, replace
from typing import Dict, Iterable, Iterator, List, Optional, Sequence

import torch

from ..errors import BadInputError
from ..slides import SlideSource, WindowGrid, check_positive, check_positive_int, open_slide
from ..utils.atomic import atomic_path
from .exports import SlideOutputs
from .scratch import remove_dead_scratch
from .slide_inference import MASK_EXTENSIONS, check_mask_path, infer_slide
from .typed_nuclei import TypedNuclei

__all__ = ['MULTIPART_EXTENSIONS', 'OUTPUT_SUFFIXES', 'SLIDE_EXTENSIONS', 'OutputCollisionError',
           'SlideJob', 'SlideSettings', 'clean_scratch', 'expand_slides', 'plan_slides',
           'predict_slide', 'read_slide_list', 'run_slides', 'slide_name', 'write_rle_csv']

#: Files a folder given as input contributes.
SLIDE_EXTENSIONS = ('.svs', '.tif', '.tiff', '.ndpi', '.scn', '.mrxs', '.vms', '.vmu', '.bif',
                    '.svslide')
#: Extensions of two parts, stripped as one from a name.
MULTIPART_EXTENSIONS = ('.ome.tif', '.ome.tiff')
#: Each output beside the mask: ``<stem><suffix>``.
OUTPUT_SUFFIXES = {'geojson': '.geojson', 'ome_tiff': '.ome.tif', 'objects_csv': '_objects.csv',
                   'rle': '.csv', 'nuclei_summary': '_nuclei.json'}
#: What each output is, in messages.
OUTPUT_KINDS = {'mask': 'mask', 'geojson': 'GeoJSON', 'ome_tiff': 'OME-TIFF',
                'objects_csv': 'object table', 'rle': 'RLE row',
                'nuclei_summary': 'nuclei summary'}
RECORD_SUFFIX = '.slide.json'


class OutputCollisionError(BadInputError):
    """Two outputs of one call would share a path, an output would be a slide,
    or a folder holds another slide's outputs under this one's names."""


def slide_name(path: str) -> str:
    """``path``'s file name less its extension (``.ome.tif``/``.ome.tiff`` as one)."""
    return _stem(osp.basename(path))


def _stem(path: str) -> str:
    lower = path.lower()
    for ext in MULTIPART_EXTENSIONS:
        if lower.endswith(ext):
            return path[:-len(ext)]
    return osp.splitext(path)[0]


def read_slide_list(path: str) -> List[str]:
    """The entries of a list file (``--slides-from``): one path per line
    (file, folder or glob), relative ones to the file's folder; blank lines
    and lines starting with ``#`` skipped."""
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError as err:
        raise BadInputError(f'slide list {path}: {err.strerror or err}') from None
    base = osp.dirname(osp.abspath(path))
    return [osp.join(base, osp.expanduser(entry)) for entry in map(str.strip, lines)
            if entry and not entry.startswith('#')]


def expand_slides(items: Iterable[str], lists: Iterable[str] = ()) -> List[str]:
    """Slide files from files, folders (their files with a
    :data:`SLIDE_EXTENSIONS` extension), globs and list files (each entry as
    an item), in order, each once.

    Raises:
        BadInputError: an item or list is missing, or holds no slide (named).
    """
    sources = [(item, None) for item in items]
    for path in lists:
        sources += [(entry, path) for entry in read_slide_list(path)]
    slides, seen = [], set()
    for item, listed in sources:
        where = f' (listed in {listed})' if listed else ''
        if osp.isdir(item):
            found = sorted(p for p in glob.glob(osp.join(item, '*'))
                           if p.lower().endswith(SLIDE_EXTENSIONS) and osp.isfile(p))
        elif glob.has_magic(item):
            found = sorted(p for p in glob.glob(item) if osp.isfile(p))
        else:
            if not osp.isfile(item):
                raise BadInputError(f'slide {item} not found{where}')
            found = [item]
        if not found:
            raise BadInputError(f'no slides in {item}{where}')
        for path in found:
            if _key(path) not in seen:
                seen.add(_key(path))
                slides.append(path)
    if not slides:
        raise BadInputError('no slides given')
    return slides


def _key(path: str) -> str:
    """What two paths share when they are the same file."""
    return osp.normcase(osp.realpath(path))


@dataclass(frozen=True)
class SlideJob:
    """One slide of a call: where its outputs go.

    Attributes:
        slide: The slide file.
        paths: Output kind (``mask``, ``geojson``, ``ome_tiff``,
            ``objects_csv``, ``rle``) -> path.
        scratch_dir: Where the mask is made.
        record: The record of whose outputs these are (folder outputs; None
            for a mask path given).
    """

    slide: str
    paths: Dict[str, str]
    scratch_dir: str
    record: Optional[str] = None

    @property
    def name(self) -> str:
        """The slide's name (:func:`slide_name`): the RLE row's id."""
        return slide_name(self.slide)

    def done(self) -> bool:
        """Folder outputs that all exist (a mask path given is always redone)."""
        return self.record is not None and all(osp.isfile(p) for p in self.paths.values())


def plan_slides(slides: Sequence[str], out: str, geojson: Optional[str] = None,
                ome_tiff: Optional[str] = None, objects_csv: Optional[str] = None,
                rle: bool = False, scratch_dir: Optional[str] = None,
                nuclei_summary: bool = False) -> List[SlideJob]:
    """Every slide's output paths, checked before anything is written.

    Args:
        slides: The slide files.
        out: The mask path (.tif/.tiff/.png) for one slide, or a folder
            (several slides; or one, given an existing folder, a path ending
            in ``/`` or one without extension).
        geojson, ome_tiff, objects_csv: None (not written), ``''`` (beside
            the mask) or a path (one slide only).
        rle: Also the Kaggle RLE row, beside the mask.
        scratch_dir: Where masks are made (default: beside the mask).
        nuclei_summary: Also a typed model's per-slide nuclei summary
            (``<name>_nuclei.json``), beside the mask.

    Raises:
        OutputCollisionError: two outputs would share a path, or an output
            would be one of the slides, or the folder holds another slide's
            outputs under a name of this call (names both and the path).
        BadInputError: ``out`` or an output path does not fit the slides.
    """
    wanted = dict(geojson=geojson, ome_tiff=ome_tiff, objects_csv=objects_csv,
                  rle='' if rle else None, nuclei_summary='' if nuclei_summary else None)
    folder = (len(slides) > 1 or osp.isdir(out) or out.endswith(('/', os.sep))
              or not osp.splitext(out)[1])
    if len(slides) > 1:
        given = [f'--{k.replace("_", "-")}' for k, v in wanted.items() if v]
        if given or osp.splitext(out)[1].lower() in MASK_EXTENSIONS:
            raise BadInputError(f'{len(slides)} slides: --out must be a folder and '
                                f'{", ".join(given) or "the outputs"} take no path (each slide '
                                'writes beside its mask)')
    elif not folder:
        try:
            check_mask_path(out)
        except ValueError as err:
            raise BadInputError(f'--out {err}') from None
    jobs = []
    for slide in slides:
        mask = osp.join(out, slide_name(slide) + '.tif') if folder else out
        stem = _stem(mask)
        paths = dict(mask=mask)
        paths.update({kind: value or stem + OUTPUT_SUFFIXES[kind]
                      for kind, value in wanted.items() if value is not None})
        record = osp.join(osp.dirname(mask), f'.{osp.basename(mask)}{RECORD_SUFFIX}') \
            if folder else None
        jobs.append(SlideJob(slide, paths,
                             scratch_dir or osp.dirname(osp.abspath(mask)), record))
    _check_collisions(jobs)
    return jobs


def _check_collisions(jobs: Sequence[SlideJob]) -> None:
    owners = {_key(job.slide): (job.slide, None) for job in jobs}  # path -> (slide, kind)
    for job in jobs:
        for kind, path in job.paths.items():
            other, other_kind = owners.setdefault(_key(path), (job.slide, kind))
            if (other, other_kind) == (job.slide, kind):
                continue
            what = f'the {OUTPUT_KINDS[kind]} of {job.slide}'
            if other_kind is None:
                problem = f'{path} is the slide {other} and would be overwritten by {what}'
                fix = 'choose another --out'
            elif other == job.slide:
                problem = f'{what} and its {OUTPUT_KINDS[other_kind]} would both be {path}'
                fix = 'give them different paths'
            else:
                problem = (f'{job.slide} and {other} would both write {path} ({what} and the '
                           f'{OUTPUT_KINDS[other_kind]} of {other})')
                fix = 'rename one of them, or run them into separate --out folders'
            raise OutputCollisionError(f'output paths collide: {problem}: {fix}')
        _check_record(job)


def _slide_identity(slide: str) -> dict:
    return dict(slide=osp.basename(slide), bytes=os.path.getsize(slide))


def _check_record(job: SlideJob) -> None:
    """Refuse a folder whose outputs under this slide's names are another slide's."""
    if job.record is None or not osp.isfile(job.record):
        return
    try:
        with open(job.record) as f:
            recorded = json.load(f)
    except (OSError, ValueError):
        return  # unreadable: as if absent (outputs from before records, or a torn copy)
    if not isinstance(recorded, dict):
        return
    current = _slide_identity(job.slide)
    if recorded != current:
        raise OutputCollisionError(
            f'output paths collide: {job.paths["mask"]} and its outputs were written for '
            f'another slide ({recorded.get("slide")}, {recorded.get("bytes")} bytes; '
            f'{job.slide} has {current["bytes"]}), as {job.record} records: choose another '
            '--out, or delete them to predict this slide')


def clean_scratch(jobs: Iterable[SlideJob]) -> List[str]:
    """Remove the scratch folders dead runs left where these slides' masks are
    made; the paths removed (live runs' folders are left)."""
    removed = []
    for folder in dict.fromkeys(job.scratch_dir for job in jobs):
        removed += remove_dead_scratch(folder)
    return removed


@dataclass(frozen=True)
class SlideSettings:
    """How every slide of a call is predicted (see
    :func:`~.slide_inference.infer_slide`).

    The reading resolution: ``mpp``; else ``train_mpp`` (the config's) when no
    ``scale`` is given and the slide records its um/px; else ``scale``
    (default 1).

    Raises:
        ValueError: a setting out of range (one line naming it).
    """

    tile: int = 512
    overlap: float = 0.5
    mpp: Optional[float] = None
    scale: Optional[float] = None
    base_mpp: Optional[float] = None
    train_mpp: Optional[float] = None
    blend: str = 'center'
    batch: int = 4
    min_tissue: float = 0.0
    count_class: Optional[int] = None
    min_area: int = 0
    amp: bool = False
    channels_last: bool = False
    tta: bool = False
    typed: Optional[TypedNuclei] = None  #: typed nuclei (a typed model; typed_nuclei.py)

    def __post_init__(self) -> None:
        WindowGrid(self.tile, self.overlap, self.read_scale)
        check_positive_int('batch', self.batch)
        for name in ('mpp', 'base_mpp', 'train_mpp'):
            if getattr(self, name) is not None:
                check_positive(name, getattr(self, name))

    @property
    def read_scale(self) -> float:
        """The scale slides are read at when not at an um/px (default 1)."""
        return 1.0 if self.scale is None else self.scale

    def read_mpp(self, reader: SlideSource) -> Optional[float]:
        """The um/px to read ``reader`` at; None: at ``scale``."""
        if self.mpp is not None or self.scale is not None or self.train_mpp is None:
            return self.mpp
        return float(self.train_mpp) if reader.mpp else None


def write_rle_csv(path: str, name: str, encoding: str) -> None:
    """The Kaggle submission row ``id,predicted`` (atomically)."""
    with atomic_path(path) as tmp, open(tmp, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['id', 'predicted'])
        writer.writerow([name, encoding])


def predict_slide(model, job: SlideJob, settings: SlideSettings,
                  style: Optional[SlideOutputs] = None) -> dict:
    """Predict one slide (opened once) and write all its outputs; its summary.

    Args:
        style: Classes, palette, object type and tolerance of the outputs
            (their paths come from ``job``).
    """
    paths = job.paths
    outputs = replace(style or SlideOutputs(), geojson=paths.get('geojson'),
                      ome_tiff=paths.get('ome_tiff'), objects_csv=paths.get('objects_csv'))
    typed = settings.typed  # hook: a typed model's summary goes where the plan put it
    if typed is not None:
        typed = replace(typed, summary=paths.get('nuclei_summary'))
    with open_slide(job.slide, settings.base_mpp) as reader:
        mpp = settings.read_mpp(reader)
        result = infer_slide(model, reader, paths['mask'], tile=settings.tile,
                             overlap=settings.overlap, scale=settings.read_scale,
                             blend=settings.blend, batch=settings.batch,
                             min_tissue=settings.min_tissue, rle='rle' in paths,
                             count_class=settings.count_class, min_area=settings.min_area,
                             mpp=mpp, outputs=outputs, amp=settings.amp,
                             channels_last=settings.channels_last, tta=settings.tta,
                             scratch_dir=job.scratch_dir, typed=typed)
    if 'rle' in paths:
        write_rle_csv(paths['rle'], job.name, result.rle)
    if job.record is not None:  # last: the outputs are complete and this slide's
        with atomic_path(job.record) as tmp, open(tmp, 'w') as f:
            json.dump(_slide_identity(job.slide), f)
    record = dict(slide=job.slide, shape=list(result.shape), tiles_run=result.tiles_run,
                  tiles_skipped=result.tiles_skipped, count=result.count, read_mpp=mpp,
                  level=result.level, slide_mpp=result.mpp, seconds=round(result.seconds, 2),
                  export_seconds=round(result.export_seconds, 2), **paths)
    if result.nuclei is not None:
        record['nuclei'] = result.nuclei
    return record


def run_slides(model, jobs: Iterable[SlideJob], settings: SlideSettings,
               style: Optional[SlideOutputs] = None) -> Iterator[dict]:
    """Each slide's summary in turn: ``done`` for a slide whose folder outputs
    all exist, an ``error`` (one line naming the slide) for one that cannot
    be read or runs out of GPU memory (the next slide goes on), else
    :func:`predict_slide`'s."""
    for job in jobs:
        if job.done():
            yield dict(slide=job.slide, done=True, **job.paths)
            continue
        try:
            yield predict_slide(model, job, settings, style)
        except (BadInputError, torch.cuda.OutOfMemoryError) as err:
            if isinstance(err, BadInputError):
                reason = str(err)
            else:
                torch.cuda.empty_cache()
                reason = (f'{job.slide}: out of GPU memory; rerun it with a smaller --batch or '
                          '--tile')
            yield dict(slide=job.slide, error=reason)
