"""CoNSeP (colon H&E nuclei, 7 types; the HoVer-Net release) -> nucleus tiles + manifest.

Reads the unpacked download as it is: ``Train|Test/Images/<name>.png`` (RGBA:
alpha dropped) and ``Train|Test/Labels/<name>.mat`` (MATLAB v5) with
``inst_map`` (ids stored as float: must be whole numbers, cast to int32),
``inst_type`` (N x 1, the type of instance ``k`` in row ``k - 1``),
``type_map`` and ``inst_centroid``; ``Overlay/`` is ignored.

Type mask: built per instance from ``inst_type`` (the labels HoVer-Net's
``compute_stats.py`` scores types with), so every instance has one type.
``type_map`` is only checked against it: instances where it says another
type and typed pixels outside every instance are counted as quirks.
An instance whose ``inst_type`` is 0 (a nucleus without a type) is 255
(ignore) in the type mask. Class ids are the dataset's own
(:data:`CONSEP_CLASSES`).

Split: ``Test/`` is ``test``; the download has no validation set, so
``round(val_fraction * n)`` images of ``Train/`` are ``val`` (image level:
the file names do not reveal patients), chosen by :func:`held_out`.
"""
from __future__ import annotations

import os
import os.path as osp
from collections import Counter
from dataclasses import dataclass
from functools import partial
from typing import Dict, List, Optional

import numpy as np
import scipy.io
from PIL import Image

from ..structures.nucleus_tree import NUCLEUS_CLASSES
from .errors import (
    BadDownloadError,
    BadInputError,
    MissingDownloadError,
    MissingInputError,
    require_folder,
)
from .nuclei import NucleiImage, NucleusLabels, convert_nuclei, held_out
from .nuinsseg import natural_key
from .raster import ImageReadError, read_rgb_image
from .tiling import ConversionSummary, SkippedInputs, build_sources

__all__ = ['CONSEP_CLASSES', 'CONSEP_MPP', 'ConsepImage', 'discover_consep',
           'read_consep_labels', 'consep_images', 'convert_consep']

#: Class names by the dataset's own id (0 background), as the nucleus tree lists them.
CONSEP_CLASSES = tuple(name for name, _ in NUCLEUS_CLASSES['consep'])
#: um/px of the 40x images (HoVer-Net paper: 40x; ~0.25 um/px).
CONSEP_MPP = 0.25
IGNORE = 255
#: Quirk keys (counts: instances, pixels).
TYPE_MAP_DISAGREES = 'instances whose type_map differs from inst_type'
TYPED_BACKGROUND = 'type_map pixels outside every instance'
UNTYPED = 'instances with inst_type 0 (ignore)'
FOLDERS = (('Train', 'train'), ('Test', 'test'))


@dataclass
class ConsepImage:
    """One CoNSeP image and its files."""

    name: str
    split: str
    image: str
    labels: str


def discover_consep(raw_dir: str, val_fraction: float = 0.2) -> List[ConsepImage]:
    """Every image of ``Train/`` and ``Test/`` with its split, in natural name order.

    Raises:
        MissingDownloadError: no ``Train/Images`` nor ``Test/Images`` PNGs.
        BadDownloadError: one image name in both folders.
    """
    require_folder(raw_dir, 'Train/Images, Train/Labels, Test/...')
    items: List[ConsepImage] = []
    for folder, split in FOLDERS:
        image_dir = osp.join(raw_dir, folder, 'Images')
        names = os.listdir(image_dir) if osp.isdir(image_dir) else []
        for name in sorted(names, key=natural_key):
            stem, ext = osp.splitext(name)
            if ext.lower() == '.png':
                items.append(ConsepImage(stem, split, osp.join(image_dir, name),
                                         osp.join(raw_dir, folder, 'Labels', f'{stem}.mat')))
    if not items:
        raise MissingDownloadError(f'{raw_dir}: no Train/Images/*.png or Test/Images/*.png; '
                                   'pass the unpacked CoNSeP folder')
    seen: Dict[str, str] = {}
    for item in items:
        if item.name in seen:
            raise BadDownloadError(f'image {item.name} is in the download twice ({seen[item.name]} '
                                   f'and {item.image}); keep one')
        seen[item.name] = item.image
    val = held_out([i.name for i in items if i.split == 'train'], val_fraction, 'consep')
    for item in items:
        if item.name in val:
            item.split = 'val'
    return items


def _whole_numbers(path: str, key: str, array: np.ndarray, ndim: int) -> np.ndarray:
    """``array`` as int64 if it holds finite whole numbers >= 0 (else a named error)."""
    array = np.asarray(array)
    if array.ndim != ndim or not (np.issubdtype(array.dtype, np.number)
                                  or array.dtype == bool):
        raise BadInputError(f'{path}: {key} is {array.dtype} {array.shape}, expected a '
                            f'{ndim}-D numeric array')
    values = array.astype(np.float64)
    bad = ~np.isfinite(values) | (values < 0) | (values != np.round(values))
    if bad.any():
        where = tuple(int(i[0]) for i in np.nonzero(bad))
        raise BadInputError(f'{path}: {key} holds {float(values[where]):g} at {where}: expected '
                            'whole numbers >= 0; re-extract it from the download')
    return values.astype(np.int64)


def read_consep_labels(path: str) -> NucleusLabels:
    """Instances and types of one ``.mat`` (``image`` left empty; see the
    module docstring for how the type mask is built).

    Raises:
        BadInputError: unreadable file, a missing key, non-integer ids, ids
            without a row in ``inst_type``, a type outside 0..7, or a
            ``type_map`` of another size (each naming the file).
    """
    try:
        mat = scipy.io.loadmat(path)
    except Exception as err:  # scipy raises many types on damaged files
        raise BadInputError(f'{path}: unreadable .mat ({type(err).__name__}: {err}); '
                            're-extract it from the download') from None
    missing = [k for k in ('inst_map', 'inst_type') if k not in mat]
    if missing:
        raise BadInputError(f'{path}: keys {missing} missing (has '
                            f'{sorted(k for k in mat if not k.startswith("__"))})')
    instances = _whole_numbers(path, 'inst_map', mat['inst_map'], 2)
    inst_type = _whole_numbers(path, 'inst_type', np.reshape(mat['inst_type'], -1), 1)
    top = int(instances.max(initial=0))
    if top > len(inst_type):
        raise BadInputError(f'{path}: inst_map has id {top} but inst_type only {len(inst_type)} '
                            'rows; the file is damaged')
    if inst_type.max(initial=0) >= len(CONSEP_CLASSES):
        k = int(np.argmax(inst_type))
        raise BadInputError(f'{path}: inst_type row {k + 1} is {inst_type[k]}, not a CoNSeP '
                            f'type (1..{len(CONSEP_CLASSES) - 1})')
    lut = np.concatenate([[0], np.where(inst_type == 0, IGNORE, inst_type)]).astype(np.uint8)
    types = lut[instances]
    present = np.unique(instances)[1:]
    quirks = Counter({UNTYPED: int((inst_type[present - 1] == 0).sum())})
    if 'type_map' in mat:
        type_map = _whole_numbers(path, 'type_map', mat['type_map'], 2)
        if type_map.shape != instances.shape:
            raise BadInputError(f'{path}: type_map is {type_map.shape}, inst_map '
                                f'{instances.shape}; the file is damaged')
        inside = instances > 0
        differs = inside & (type_map != types) & (types != IGNORE)
        quirks[TYPE_MAP_DISAGREES] += len(np.unique(instances[differs]))
        quirks[TYPED_BACKGROUND] += int(((type_map > 0) & ~inside).sum())
    return NucleusLabels(np.zeros(instances.shape + (3,), np.uint8), instances.astype(np.int32),
                         types, +quirks)


def load_consep(item: ConsepImage) -> NucleusLabels:
    """Pixels and labels of one image (sizes checked against each other)."""
    image = read_rgb_image(item.image)
    labels = read_consep_labels(item.labels)
    if labels.instances.shape != image.shape[:2]:
        raise BadInputError(f'{item.labels}: inst_map is {labels.instances.shape}, image '
                            f'{item.image} is {image.shape[:2]}; re-extract both')
    labels.image = image
    return labels


def _nuclei_image(item: ConsepImage) -> NucleiImage:
    if not osp.isfile(item.labels):
        raise MissingInputError(f'{item.labels} is missing (the labels of {item.image}); '
                                're-extract the download')
    try:
        with Image.open(item.image) as im:
            width, height = im.size
    except (OSError, SyntaxError) as err:
        raise ImageReadError(f'{item.image}: unreadable image ({err}); re-extract it') from None
    return NucleiImage(
        name=item.name, size=(height, width), mpp=CONSEP_MPP, load=partial(load_consep, item),
        fields=dict(dataset='consep', species='human', organ='colon', slide=item.name,
                    case=item.name, split=item.split, fold='', origin='consep', patient=''))


def consep_images(raw_dir: str, val_fraction: float = 0.2,
                  skipped: Optional[SkippedInputs] = None) -> List[NucleiImage]:
    """The download as :class:`NucleiImage` records (unreadable PNGs and
    missing labels raise, or with ``skipped`` are listed there)."""
    return build_sources(discover_consep(raw_dir, val_fraction), _nuclei_image,
                         lambda item: item.image, skipped)


def convert_consep(raw_dir: str, out_dir: str, mpp: Optional[float] = None, tile: int = 256,
                   skip_bad: bool = False, workers: int = 1,
                   val_fraction: float = 0.2) -> ConversionSummary:
    """Convert the whole download (layout: :mod:`.nuclei`).

    Args:
        raw_dir: The unpacked ``CoNSeP/`` folder.
        out_dir: Output dataset folder.
        mpp: Resample to this um/px (None: keep 0.25).
        tile: Tile side.
        skip_bad: List unusable images in ``skipped.csv`` and go on.
        workers: Images converted at once (processes).
        val_fraction: Part of ``Train/`` held out as ``val``.
    """
    skipped = SkippedInputs() if skip_bad else None
    images = consep_images(raw_dir, val_fraction, skipped)
    return convert_nuclei(images, out_dir, desc='CoNSeP', mpp=mpp, tile=tile, skipped=skipped,
                          workers=workers)
