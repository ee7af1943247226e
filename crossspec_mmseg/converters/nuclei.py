"""The nuclei family (PanNuke, CoNSeP, MoNuSAC, Lizard/CoNIC, NuInsSeg): one
image's nuclei -> tiles, shared by every nuclei converter.

A converter describes each image as a :class:`NucleiImage` whose ``load``
returns :class:`NucleusLabels` (RGB, instance ids, the dataset's own type
ids); :func:`convert_nuclei` checks them, optionally resamples them to a
target um/px, and tiles them with :func:`.tiling.convert_sources` into
``images/`` (RGB), ``masks/`` (type ids, column ``mask``, 255 ignore) and
``instances/`` (16-bit ids, column ``instance``, 0 background). Windows do
not overlap, except that the last of a row or column ends at the image border
(as in every converter); every tile is kept (no background test); the
manifest's ``mpp`` is the tile's um/px.

Resampling (``mpp``, :func:`resample_nuclei`) keeps instances whole: each
instance's binary mask is resampled on its own by area (the fraction of each
target pixel it covers), and a target pixel goes to the instance covering the
largest fraction of it when that fraction is at least one half. Instances
never overlap in a source, so at most two instances reach one half of one
pixel, and only on an exact tie: the smaller instance (fewer source pixels)
wins, then the lower id. So an instance keeps its id and is never merged with
another; one that covers no target pixel vanishes and is counted
(``instances vanished at target um/px``); its footprint becomes ignore (255)
in the type mask, as it holds a nucleus too small to label. An instance keeps
its type; one whose source pixels hold several type values (e.g. ignore
pixels) takes them by nearest neighbour inside itself, 255 elsewhere. Outside
instances the type mask (background or ignore) is sampled nearest. The image
is resized with area interpolation when shrinking, linear when enlarging.

Quirks (the counts each loader reports in :attr:`NucleusLabels.quirks`, plus
the above) are summed into the conversion summary and kept in the resume
journal (``.journal/<image>.quirks.json``).
"""
from __future__ import annotations

import hashlib
import logging
import os.path as osp
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, Mapping, Optional, Set, Tuple

import cv2
import numpy as np
from scipy import ndimage

from ..slides import check_positive
from .errors import BadInputError, MissingInputError
from .raster import ArrayReader
from .tiling import ConversionSummary, SkippedInputs, SourceImage, TilingConfig, convert_sources

__all__ = ['IGNORE', 'NUCLEI_FIELDS', 'VANISHED', 'NucleusLabels', 'NucleiImage', 'convert_nuclei',
           'held_out', 'load_npy', 'resample_nuclei', 'split_disconnected', 'target_shape']

logger = logging.getLogger(__name__)

#: Manifest fields every nuclei converter fills (see docs/datasets.md).
NUCLEI_FIELDS = ('dataset', 'species', 'organ', 'slide', 'case', 'split', 'fold', 'origin',
                 'patient')
#: Quirk key of instances lost to resampling.
VANISHED = 'instances vanished at target um/px'
RELABELLED = 'images with instance ids above 65535 (relabelled 1..n)'
IGNORE = 255
#: Coverage that makes a target pixel part of an instance (with float slack).
_HALF = 0.5 - 1e-6


@dataclass
class NucleusLabels:
    """One image's nuclei as read from a download.

    Args:
        image: ``(H, W, 3)`` uint8 RGB.
        instances: ``(H, W)`` integer ids, 0 background (any positive values;
            above 65535 they are relabelled 1..n).
        types: ``(H, W)`` uint8, the dataset's own class ids, 0 background,
            255 ignore.
        quirks: What the loader found odd, ``{what: count}``.
    """

    image: np.ndarray
    instances: np.ndarray
    types: np.ndarray
    quirks: Counter = field(default_factory=Counter)


@dataclass
class NucleiImage:
    """One image of a nuclei download, described before it is read.

    Args:
        name: Unique stem in the output (tiles are ``f'{name}_x{x}_y{y}'``).
        size: ``(H, W)`` at the source um/px.
        mpp: Source um/px.
        fields: Manifest fields (at least :data:`NUCLEI_FIELDS`).
        load: Reads the files; raises :class:`BadInputError` naming the file.
    """

    name: str
    size: Tuple[int, int]
    mpp: float
    fields: Dict[str, object]
    load: Callable[[], NucleusLabels]


def load_npy(path: str, mmap: bool = True) -> np.ndarray:
    """A download's ``.npy``, memory-mapped (``mmap``) so a slice reads only
    its bytes; missing, truncated or corrupt files raise naming the file."""
    if not osp.isfile(path):
        raise MissingInputError(f'{path} is missing; extract it again from the download')
    try:
        return np.load(path, mmap_mode='r' if mmap else None, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise BadInputError(f'{path}: unreadable .npy ({err}); truncated or corrupt, '
                            'download it again') from None


def target_shape(size: Tuple[int, int], source_mpp: float,
                 mpp: Optional[float]) -> Tuple[int, int]:
    """``(H, W)`` of an image of ``size`` at ``source_mpp`` resampled to ``mpp``."""
    if mpp is None:
        return tuple(size)
    factor = source_mpp / mpp
    return tuple(max(1, int(round(n * factor))) for n in size)


def split_disconnected(instances: np.ndarray, first_new_id: Optional[int] = None
                       ) -> Tuple[np.ndarray, int]:
    """Give every 8-connected piece of an id its own id.

    The largest piece keeps the id (the first in raster order on a tie); the
    others get new ids from ``first_new_id`` (default: above the largest),
    in id then raster order. Returns the new map and how many ids were split.
    """
    out = instances.copy()
    next_id = int(instances.max(initial=0)) + 1 if first_new_id is None else first_new_id
    split = 0
    for i, box in enumerate(ndimage.find_objects(instances), start=1):
        if box is None:
            continue
        pieces, n = ndimage.label(instances[box] == i, structure=np.ones((3, 3), int))
        if n < 2:
            continue
        split += 1
        keep = int(np.argmax(np.bincount(pieces.ravel())[1:])) + 1
        view = out[box]
        for piece in range(1, n + 1):
            if piece != keep:
                view[pieces == piece] = next_id
                next_id += 1
    return out, split


def _axis_weights(n: int, m: int, lo: int, hi: int) -> Tuple[int, np.ndarray]:
    """Area weights of source pixels ``[lo, hi)`` on the target pixels they
    touch when ``n`` pixels become ``m``: ``(first target pixel, (k, hi - lo))``,
    each entry the fraction of a target pixel a source pixel covers."""
    s = m / n
    first, last = int(np.floor(lo * s)), min(m, int(np.ceil(hi * s)))
    u = np.arange(first, last, dtype=np.float64)[:, None]
    x = np.arange(lo, hi, dtype=np.float64)[None, :]
    overlap = np.minimum(x + 1, (u + 1) / s) - np.maximum(x, u / s)
    return first, np.clip(overlap, 0, None) * s


def _nearest_index(n: int, m: int) -> np.ndarray:
    """Source pixel under each target pixel's centre."""
    return np.clip(np.floor((np.arange(m) + 0.5) * n / m).astype(np.int64), 0, n - 1)


def resample_nuclei(labels: NucleusLabels, shape: Tuple[int, int]) -> NucleusLabels:
    """``labels`` resampled to ``shape`` instance by instance (rules in the
    module docstring); vanished instances are added to ``quirks[VANISHED]``."""
    height, width = labels.instances.shape
    if (height, width) == tuple(shape):
        return labels
    th, tw = shape
    shrinking = th * tw < height * width
    image = cv2.resize(labels.image, (tw, th),
                       interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    ny, nx = _nearest_index(height, th), _nearest_index(width, tw)
    near_ids, near_types = labels.instances[np.ix_(ny, nx)], labels.types[np.ix_(ny, nx)]
    ids, compact = np.unique(labels.instances, return_inverse=True)
    compact = compact.reshape(labels.instances.shape)
    if ids[0] != 0:  # no background pixel: index 0 must still mean background
        ids, compact = np.concatenate([[0], ids]), compact + 1
    boxes = ndimage.find_objects(compact)
    areas = np.bincount(compact.ravel())
    out_ids = np.zeros(shape, labels.instances.dtype)
    best = np.zeros(shape, np.float64)
    windows = {}
    for k in sorted(range(1, len(ids)), key=lambda k: (areas[k], ids[k])):
        ys, xs = boxes[k - 1]
        y0, wy = _axis_weights(height, th, ys.start, ys.stop)
        x0, wx = _axis_weights(width, tw, xs.start, xs.stop)
        cover = wy @ (compact[ys, xs] == k).astype(np.float64) @ wx.T
        window = windows[k] = (slice(y0, y0 + cover.shape[0]), slice(x0, x0 + cover.shape[1]))
        wins = (cover >= _HALF) & (cover > best[window] + 1e-6)
        best[window][wins] = cover[wins]
        out_ids[window][wins] = ids[k]
    out_types = np.where(near_ids == 0, near_types, 0).astype(np.uint8)
    vanished = np.setdiff1d(ids[1:], np.unique(out_ids))
    out_types[np.isin(near_ids, vanished) & (out_ids == 0)] = IGNORE
    for k, window in windows.items():
        values = np.unique(labels.types[boxes[k - 1]][compact[boxes[k - 1]] == k])
        mine = out_ids[window] == ids[k]
        if len(values) == 1:
            out_types[window][mine] = values[0]
        else:  # several types (e.g. ignore pixels): nearest inside the instance
            inside = near_ids[window] == ids[k]
            out_types[window][mine] = np.where(inside, near_types[window], IGNORE)[mine]
    quirks = Counter(labels.quirks)
    if len(vanished):
        quirks[VANISHED] += len(vanished)
    return NucleusLabels(image, out_ids, out_types, quirks)


def _checked(image: NucleiImage, labels: NucleusLabels) -> NucleusLabels:
    """The loader's arrays, checked against the image's declared size; ids above
    65535 relabelled 1..n (counted)."""
    size = tuple(image.size)
    rgb, ids, types = labels.image, labels.instances, labels.types
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise BadInputError(f'{image.name}: image is {rgb.dtype} {rgb.shape}, expected uint8 '
                            '(H, W, 3) RGB')
    for what, array in (('image', rgb), ('instance map', ids), ('type map', types)):
        if array.shape[:2] != size:
            raise BadInputError(f'{image.name}: {what} is {array.shape[:2]}, the image is '
                                f'{size}; its files do not belong together')
    if ids.ndim != 2 or not np.issubdtype(ids.dtype, np.integer) or ids.min(initial=0) < 0:
        raise BadInputError(f'{image.name}: instance map must be non-negative integers, got '
                            f'{ids.dtype} {ids.shape}')
    if types.ndim != 2 or types.dtype != np.uint8:
        raise BadInputError(f'{image.name}: type map must be uint8 (H, W), got {types.dtype} '
                            f'{types.shape}')
    quirks = Counter(labels.quirks)
    if ids.max(initial=0) > np.iinfo(np.uint16).max:
        values, ids = np.unique(ids, return_inverse=True)
        ids = ids.reshape(types.shape) + int(values[0] != 0)  # 0 stays background
        quirks[RELABELLED] += 1
    return NucleusLabels(rgb, ids.astype(np.int64), types, quirks)


class _ReleasingReader(ArrayReader):
    """An in-memory image reader that calls ``on_close`` when closed."""

    def __init__(self, image: np.ndarray, mpp: float, on_close: Callable[[], None]) -> None:
        super().__init__(image, mpp=mpp)
        self._on_close = on_close

    def close(self) -> None:
        super().close()
        self._on_close()


LabelMaker = Callable[[NucleusLabels], np.ndarray]


class _NucleiSource:
    """One image as a :class:`SourceImage`: read (and resampled) when its
    reader opens, its arrays freed when the reader closes."""

    def __init__(self, image: NucleiImage, mpp: Optional[float],
                 extra_labels: Mapping[str, LabelMaker]) -> None:
        self.image, self.mpp, self.extra_labels = image, mpp, dict(extra_labels)
        self.shape = target_shape(image.size, image.mpp, mpp)
        self.arrays: Dict[str, np.ndarray] = {}
        self.found: Optional[Counter] = None

    def _read(self) -> NucleusLabels:
        labels = _checked(self.image, self.image.load())
        labels = resample_nuclei(labels, self.shape)
        if labels.quirks.get(VANISHED):
            logger.warning('%s: %d instances vanished at %s um/px', self.image.name,
                           labels.quirks[VANISHED], self.mpp)
        self.found = labels.quirks
        return labels

    def open_reader(self) -> ArrayReader:
        labels = self._read()
        self.arrays = dict(masks=labels.types, instances=labels.instances.astype(np.uint16))
        self.arrays.update({folder: make(labels) for folder, make in self.extra_labels.items()})
        return _ReleasingReader(labels.image, self.mpp or self.image.mpp, self.arrays.clear)

    def window(self, folder: str):
        return lambda x, y, w, h: self.arrays[folder][y:y + h, x:x + w]

    def quirks(self) -> Counter:
        """The image's quirk counts (read again when every tile already existed)."""
        if self.found is None:
            self._read()
        found, self.found = self.found, None
        return found

    def source(self) -> SourceImage:
        folders = ['masks', 'instances', *self.extra_labels]
        return SourceImage(name=self.image.name, size=self.shape, open_reader=self.open_reader,
                           labels={f: self.window(f) for f in folders},
                           fields=dict(self.image.fields), pad_values=dict(instances=0),
                           mpp=self.mpp or self.image.mpp, quirks=self.quirks)


def _check_fields(image: NucleiImage) -> NucleiImage:
    missing = [name for name in NUCLEI_FIELDS if name not in image.fields]
    if missing:
        raise ValueError(f'{image.name}: manifest fields {missing} missing (a nuclei converter '
                         f'fills {list(NUCLEI_FIELDS)})')
    return image


def convert_nuclei(images: Iterable[NucleiImage], out_dir: str, *, desc: str,
                   mpp: Optional[float] = None, tile: int = 256,
                   skipped: Optional[SkippedInputs] = None, workers: int = 1,
                   extra_labels: Optional[Mapping[str, LabelMaker]] = None,
                   label_options: Optional[Mapping[str, object]] = None) -> ConversionSummary:
    """Tile nuclei images into ``out_dir`` (layout in the module docstring).

    Args:
        images: The download's images, described before reading.
        out_dir: Output dataset folder.
        desc: Progress bar label.
        mpp: Resample every image to this um/px first (instance by instance);
            None keeps each at its own.
        tile: Tile side (after resampling).
        skipped: With it (``--skip-bad``), images whose ``load`` raises
            :class:`BadInputError` are listed in ``skipped.csv`` and left out.
        workers: Images converted at once, in forked processes.
        extra_labels: More label folders, each made from the (resampled)
            labels, e.g. NuInsSeg's ``masks_contour``.
        label_options: As :func:`convert_sources` (a resume with other
            options is refused); ``mpp`` is recorded there as ``images``.
    """
    if mpp is not None:
        check_positive('mpp', mpp)
    sources = [_NucleiSource(_check_fields(image), mpp, extra_labels or {}).source()
               for image in images]
    tiling = TilingConfig(tile=tile, overlap=0.0, scale=1.0, min_tissue=0.0)
    options = dict(label_options or {}, images=dict(mpp=mpp))
    return convert_sources(sources, out_dir, tiling, desc=desc, skipped=skipped,
                           label_options=options, workers=workers)


def held_out(keys: Iterable[str], fraction: float, salt: str) -> Set[str]:
    """A deterministic ``fraction`` of ``keys`` (a validation split).

    Keys are ranked by the SHA-256 of ``f'{salt}:{key}'`` and the first
    ``round(fraction * n)`` are taken, at least one when ``fraction > 0`` and
    ``n >= 2``, never all. The choice depends only on the keys (not on file
    system order), and a key keeps its side when others are added unless the
    count changes.
    """
    if not 0 <= fraction < 1:
        raise ValueError(f'validation fraction {fraction} is outside [0, 1)')
    keys = sorted(set(keys))
    count = int(round(fraction * len(keys)))
    if fraction > 0 and len(keys) >= 2:
        count = min(max(count, 1), len(keys) - 1)
    ranked = sorted(keys, key=lambda k: hashlib.sha256(f'{salt}:{k}'.encode()).hexdigest())
    return set(ranked[:count])
