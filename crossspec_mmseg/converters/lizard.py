"""Lizard and its CoNIC patches (colon, 20x, 0.5 um/px) -> tiles + manifest.

One entry point, :func:`convert_lizard`, detects which download it is given:

* **Lizard**: ``Lizard_Images1/*.png`` and ``Lizard_Images2/*.png`` (each
  possibly inside ``lizard_images1/`` ... as the archives unpack),
  ``Lizard_Labels/Labels/<stem>.mat`` (MATLAB v5: ``inst_map`` ids, ``id``
  and ``class`` listing each id's class 1..6, ``bbox``, ``centroid``) and
  ``Lizard_Labels/info.csv`` (``Filename``, ``Source``, ``Split``: the
  paper's three cross-validation folds, written to ``fold`` as
  ``fold1``..``fold3``; ``split`` stays empty). ``Overlay/`` is ignored.
* **CoNIC**: ``images.npy`` (N, 256, 256, 3) uint8, ``labels.npy``
  (N, 256, 256, 2) = [instance id, class 0..6] and ``patch_info.csv`` (one
  column, ``<lizard image>-<patch>``), memory-mapped; ``case`` and ``slide``
  are the Lizard image a patch was cut from (patches of one image stay
  together), no split.

Types: 1 neutrophil, 2 epithelial, 3 lymphocyte, 4 plasma, 5 eosinophil,
6 connective; 0 background, 255 ignore. ``origin`` is the image name's
prefix (``consep``, ``crag``, ``dpath``, ``glas``, ``pannuke``: the
collection Lizard re-annotated); ``patient`` is unknown.

Quirks, counted in the summary: ``instances without a class`` (an id of
``inst_map`` missing from ``id``: type ignore, instance kept), ``listed ids
absent from inst_map`` (nothing to draw), ``instances with several classes``
(CoNIC pixels of one id in several classes, or class 0: type ignore),
``class pixels outside instances`` (CoNIC: ignore). A ``.mat`` without
``inst_map``, ``id`` or ``class``, a class outside 1..6, or arrays that do not
match their image stop the conversion naming the file (``--skip-bad``: that
image is left out).
"""
from __future__ import annotations

import csv
import os
import os.path as osp
import re
from collections import Counter
from dataclasses import dataclass
from typing import Dict, List, Optional

import numpy as np
import scipy.io
from PIL import Image

from .errors import (
    BadDownloadError,
    BadInputError,
    MissingDownloadError,
    MissingInputError,
    require_folder,
)
from .nuclei import IGNORE, NucleiImage, NucleusLabels, convert_nuclei, load_npy
from .raster import ImageReadError, read_rgb_image
from .tiling import ConversionSummary, SkippedInputs, build_sources

__all__ = ['LIZARD_CLASSES', 'LIZARD_MPP', 'LizardItem', 'discover_lizard', 'lizard_labels',
           'conic_labels', 'convert_lizard']

LIZARD_CLASSES = ('background', 'neutrophil', 'epithelial', 'lymphocyte', 'plasma',
                  'eosinophil', 'connective')
#: 20x scans.
LIZARD_MPP = 0.5
UNCLASSED = 'instances without a class'
ABSENT = 'listed ids absent from inst_map'
MIXED = 'instances with several classes'
STRAY = 'class pixels outside instances'
_IMAGE_DIR = re.compile(r'lizard_images\d*$', re.IGNORECASE)
_MAX_DEPTH = 3


def origin_of(stem: str) -> str:
    """The collection an image came from: its name's prefix (``glas_12`` -> ``glas``)."""
    prefix, sep, _ = stem.partition('_')
    return prefix.lower() if sep else 'lizard'


def _fields(dataset: str, image: str, fold: str) -> Dict[str, object]:
    return dict(dataset=dataset, species='human', organ='colon', slide=image, case=image,
                split='', fold=fold, origin=origin_of(image), patient='')


# -- Lizard -------------------------------------------------------------------------------

@dataclass
class LizardItem:
    """One Lizard image and its label file."""

    stem: str
    image: str
    label: str
    fold: str = ''


def _walk(raw_dir: str):
    """``(folder, files)`` under ``raw_dir``, at most a few levels deep."""
    depth0 = raw_dir.rstrip(os.sep).count(os.sep)
    for folder, dirs, files in os.walk(raw_dir):
        if folder.count(os.sep) - depth0 >= _MAX_DEPTH:
            dirs[:] = []
        dirs.sort()
        yield folder, sorted(files)


def read_info_csv(path: str) -> Dict[str, str]:
    """``info.csv``: image stem -> ``foldK`` (from ``Split`` K)."""
    with open(path, newline='', encoding='utf-8-sig') as f:
        reader = csv.DictReader(f)
        missing = {'Filename', 'Split'} - set(reader.fieldnames or [])
        if missing:
            raise BadDownloadError(f'{path}: no column(s) {sorted(missing)}; expected '
                                   'Filename, Source, Split as in the Lizard download')
        folds = {}
        for line, row in enumerate(reader, start=2):
            split = row['Split'].strip()
            if not split.isdigit():
                raise BadDownloadError(f'{path}:{line}: Split {split!r} is not a fold number')
            folds[osp.splitext(row['Filename'].strip())[0]] = f'fold{int(split)}'
    return folds


def discover_lizard(raw_dir: str) -> List[LizardItem]:
    """Every Lizard image with its ``.mat`` and fold, by name."""
    images, labels, info = {}, {}, None
    for folder, files in _walk(raw_dir):
        name = osp.basename(folder)
        for file in files:
            stem, ext = osp.splitext(file)
            path = osp.join(folder, file)
            if _IMAGE_DIR.match(name) and ext.lower() == '.png':
                if stem in images:
                    raise BadDownloadError(f'image {stem} is in the download twice '
                                           f'({images[stem]} and {path}): keep one')
                images[stem] = path
            elif name == 'Labels' and ext.lower() == '.mat':
                labels[stem] = path
            elif file == 'info.csv' and info is None:
                info = path
    if not images:
        raise MissingDownloadError(f'{raw_dir}: no Lizard_Images*/*.png (Lizard) nor images.npy '
                                   'and labels.npy (CoNIC); pass the unpacked download')
    folds = read_info_csv(info) if info else {}
    label_dir = osp.dirname(next(iter(labels.values()))) if labels else osp.join(
        raw_dir, 'Lizard_Labels', 'Labels')
    return [LizardItem(stem, images[stem], labels.get(stem, osp.join(label_dir, f'{stem}.mat')),
                       folds.get(stem, '')) for stem in sorted(images)]


def _mat_array(mat: dict, key: str, path: str) -> np.ndarray:
    if key not in mat:
        raise BadInputError(f'{path}: no {key!r} in the .mat (keys: '
                            f'{sorted(k for k in mat if not k.startswith("__"))}); '
                            'extract it again from Lizard_Labels')
    return np.asarray(mat[key])


def _integers(array: np.ndarray, what: str, path: str) -> np.ndarray:
    if array.dtype.kind not in 'iub' and not (
            array.dtype.kind == 'f' and np.isfinite(array).all() and not (array % 1).any()):
        raise BadInputError(f'{path}: {what} holds non-integer values ({array.dtype})')
    if array.size and array.min() < 0:
        raise BadInputError(f'{path}: {what} holds negative values')
    return array.astype(np.int64)


def lizard_labels(image: np.ndarray, path: str) -> NucleusLabels:
    """An image's labels from its Lizard ``.mat`` (quirks in the module docstring)."""
    if not osp.isfile(path):
        raise MissingInputError(f'{path}: label file missing for this image; extract '
                                'Lizard_Labels again')
    try:
        mat = scipy.io.loadmat(path)
    except (ValueError, OSError, NotImplementedError, TypeError) as err:
        raise BadInputError(f'{path}: unreadable .mat ({err}); extract it again') from None
    inst = _integers(_mat_array(mat, 'inst_map', path), 'inst_map', path)
    ids = _integers(_mat_array(mat, 'id', path).ravel(), 'id', path)
    classes = _integers(_mat_array(mat, 'class', path).ravel(), 'class', path)
    if inst.shape != image.shape[:2]:
        raise BadInputError(f'{path}: inst_map is {inst.shape}, its image is '
                            f'{image.shape[:2]}')
    if ids.shape != classes.shape:
        raise BadInputError(f'{path}: {ids.size} ids but {classes.size} classes')
    unknown = sorted(set(classes.tolist()) - set(range(1, len(LIZARD_CLASSES))))
    if unknown:
        raise BadInputError(f'{path}: unknown class {unknown[0]} (Lizard has 1..6)')
    present = np.unique(inst[inst > 0])
    table = np.full(max(int(inst.max(initial=0)), int(ids.max(initial=0))) + 1, IGNORE, np.uint8)
    table[ids[ids > 0]] = classes[ids > 0]
    table[0] = 0
    quirks = Counter({UNCLASSED: int(np.setdiff1d(present, ids).size),
                      ABSENT: int(np.setdiff1d(ids, present).size)})
    return NucleusLabels(image, inst, table[inst], +quirks)


def _lizard_image(item: LizardItem) -> NucleiImage:
    try:
        with Image.open(item.image) as im:
            width, height = im.size
    except (OSError, SyntaxError) as err:
        raise ImageReadError(f'{item.image}: unreadable image ({err}); extract it again') \
            from None
    return NucleiImage(name=item.stem, size=(height, width), mpp=LIZARD_MPP,
                       load=lambda: lizard_labels(read_rgb_image(item.image), item.label),
                       fields=_fields('lizard', item.stem, item.fold))


# -- CoNIC --------------------------------------------------------------------------------

def _conic_dir(raw_dir: str) -> Optional[str]:
    """The folder holding CoNIC's ``images.npy`` and ``labels.npy`` (or None)."""
    for folder, files in _walk(raw_dir):
        if 'images.npy' in files and 'labels.npy' in files:
            return folder
    return None


def conic_labels(image: np.ndarray, label: np.ndarray, where: str) -> NucleusLabels:
    """One CoNIC patch's labels from its ``(H, W, 2)`` [instance, class] array."""
    inst = _integers(np.asarray(label[..., 0]), 'instance ids', where)
    classes = _integers(np.asarray(label[..., 1]), 'classes', where)
    unknown = sorted(set(np.unique(classes).tolist()) - set(range(len(LIZARD_CLASSES))))
    if unknown:
        raise BadInputError(f'{where}: unknown class {unknown[0]} (CoNIC has 0..6)')
    types = classes.astype(np.uint8)
    quirks = Counter()
    stray = (inst == 0) & (classes > 0)
    quirks[STRAY] = int(stray.sum())
    types[stray] = IGNORE
    pairs = np.unique(np.stack([inst[inst > 0], classes[inst > 0]]), axis=1)
    ids, counts = np.unique(pairs[0], return_counts=True)
    mixed = np.union1d(ids[counts > 1], pairs[0][pairs[1] == 0])  # several classes, or none
    quirks[MIXED] = int(mixed.size)
    types[np.isin(inst, mixed)] = IGNORE
    return NucleusLabels(np.ascontiguousarray(image), inst, types, +quirks)


def _conic_names(path: str, count: int) -> List[str]:
    """Each patch's ``<lizard image>-<patch>`` name from ``patch_info.csv``."""
    if not osp.isfile(path):
        return [f'conic_{i:04d}' for i in range(count)]
    with open(path, newline='', encoding='utf-8-sig') as f:
        rows = [row for row in csv.reader(f) if row]
    names = [row[0].strip() for row in rows[1:]]
    if len(names) != count:
        raise BadDownloadError(f'{path}: {len(names)} patches listed, images.npy holds {count}')
    return names


def _conic_images(folder: str) -> List[NucleiImage]:
    paths = {n: osp.join(folder, f'{n}.npy') for n in ('images', 'labels')}
    try:
        images, labels = load_npy(paths['images']), load_npy(paths['labels'])
    except BadInputError as err:
        raise BadDownloadError(str(err)) from None
    if images.ndim != 4 or images.shape[3] != 3 or images.dtype != np.uint8:
        raise BadDownloadError(f'{paths["images"]}: {images.dtype} {images.shape}, expected '
                               'uint8 (N, H, W, 3)')
    if labels.shape != images.shape[:3] + (2,):
        raise BadDownloadError(f'{paths["labels"]}: shape {labels.shape}, expected '
                               f'{images.shape[:3] + (2,)} to match images.npy')
    names = _conic_names(osp.join(folder, 'patch_info.csv'), images.shape[0])
    out = []
    for i, name in enumerate(names):
        source = name.rsplit('-', 1)[0]

        def load(i=i) -> NucleusLabels:
            return conic_labels(images[i], labels[i], f'{paths["labels"]} patch {i}')

        out.append(NucleiImage(name=name, size=images.shape[1:3], mpp=LIZARD_MPP, load=load,
                               fields=_fields('conic', source, '')))
    return out


# -- both ---------------------------------------------------------------------------------

def convert_lizard(raw_dir: str, out_dir: str, mpp: Optional[float] = None, tile: int = 256,
                   skip_bad: bool = False, workers: int = 1) -> ConversionSummary:
    """Convert a Lizard or a CoNIC download (detected; module docstring).

    Args:
        raw_dir: The unpacked download.
        out_dir: Output dataset folder.
        mpp: Resample images to this um/px (instance by instance) first.
        tile: Tile side after resampling.
        skip_bad: Leave bad images out, listed in ``skipped.csv``.
        workers: Images converted at once, in forked processes.
    """
    require_folder(raw_dir, 'Lizard_Images*/ and Lizard_Labels/, or CoNIC images.npy and '
                   'labels.npy')
    skipped = SkippedInputs() if skip_bad else None
    conic = _conic_dir(raw_dir)
    if conic is not None:
        images, desc = _conic_images(conic), 'CoNIC'
    else:
        images = build_sources(discover_lizard(raw_dir), _lizard_image,
                               lambda item: item.image, skipped)
        desc = 'Lizard'
    return convert_nuclei(images, out_dir, desc=desc, mpp=mpp, tile=tile, skipped=skipped,
                          workers=workers)
