"""NuInsSeg (H&E nuclei, human and mouse organs) -> tiles + manifest.

Reads the unpacked Zenodo/Kaggle archive as it is: top-level folders
``<species> <organ>`` (spaces, the ``salivory gland``/``tonsile`` spellings,
``_location`` suffixes such as ``muscle_tibia``), discovered by listing. Per
image (stem shared across sub-folders):

* ``tissue images/<stem>.png``: RGB (some RGBA: alpha dropped);
* ``label masks modify/<stem>.tif``: uint16 instances -> nucleus = 1;
* ``vague areas/mask binary/<stem>.png`` (optional; unconfirmed that every
  image has one, absent = no ignore region): 255 -> ignore (255).

Tiled by the nuclei family's :func:`.nuclei.convert_nuclei`: besides the
semantic mask (``masks/``, column ``mask``) each tile's instance map is kept
as a 16-bit PNG (``instances/``, column ``instance``; ids as in the archive,
0 background; vague areas are ignore in the semantic mask beside it). With
``contour=WIDTH`` a 3-class target is added (``masks_contour/``, column
``mask_contour``): 0 background, 1 nucleus interior, 2 boundary (the pixels
of a nucleus within ``WIDTH`` px of another id, background included,
measured on the whole image), 255 ignore. ``mpp`` resamples each image
(40x, taken as ``NUINSSEG_MPP`` = 0.25 um/px) instance by instance first;
the contour target is then drawn on the resampled instances.

A folder that holds ``tissue images/`` but is not named ``<species> <organ>``
(e.g. ``kidney_extra``) stops the conversion with its name, since its species
is unknown; with ``--skip-bad`` it is left out and listed in ``skipped.csv``.
Folders without ``tissue images/`` (notes, zips) are ignored.

Folds: the official 5-fold ``KFold(n_splits=5, shuffle=True, random_state=19)``
over the naturally sorted image paths, written to the ``fold`` column as
``fold0`` ... ``fold4`` (``split`` is empty; ``case`` is the image).
"""
from __future__ import annotations

import os
import os.path as osp
import re
from dataclasses import dataclass
from typing import List, Optional, Tuple

import cv2
import numpy as np
from PIL import Image

from .errors import (
    BadDownloadError,
    BadInputError,
    MissingDownloadError,
    MissingInputError,
    require_folder,
)
from .nuclei import IGNORE, NucleiImage, NucleusLabels, convert_nuclei, target_shape
from .raster import ImageReadError, read_label_image, read_rgb_image
from .tiling import ConversionSummary, SkippedInputs, build_sources

__all__ = ['NUINSSEG_MPP', 'NuInsSegImage', 'natural_key', 'parse_folder_name', 'kfold_assignments',
           'discover_nuinsseg', 'contour_target', 'convert_nuinsseg']

#: um/px of the archive's 40x images (approximate: the archive states 40x, not um/px).
NUINSSEG_MPP = 0.25
IMAGES, INSTANCES, VAGUE = 'tissue images', 'label masks modify', osp.join('vague areas',
                                                                         'mask binary')


def natural_key(text: str) -> list:
    """Sort key treating digit runs as numbers (``img_2`` before ``img_10``)."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r'(\d+)', text)]


def parse_folder_name(name: str) -> Tuple[str, str, str]:
    """``'mouse muscle_tibia'`` -> ``('mouse', 'muscle', 'tibia')``.

    Species is the first word, organ the rest in lower case, with a
    ``_location`` suffix split off (empty when absent).
    """
    parts = name.strip().split(maxsplit=1)
    if len(parts) != 2:
        raise BadInputError(f'NuInsSeg folder {name!r} is not named "<species> <organ>" (e.g. '
                            '"human kidney"); rename it so its species is known')
    species, rest = parts[0].lower(), parts[1].lower()
    organ, _, location = rest.partition('_')
    return species, organ.strip(), location.strip()


def kfold_assignments(n: int, n_splits: int = 5, seed: int = 19) -> np.ndarray:
    """Fold of each item, identical to scikit-learn's
    ``KFold(n_splits, shuffle=True, random_state=seed)`` test folds."""
    if n < n_splits:
        raise BadDownloadError(f'{n} images cannot make {n_splits} folds')
    order = np.arange(n)
    np.random.RandomState(seed).shuffle(order)
    sizes = np.full(n_splits, n // n_splits)
    sizes[:n % n_splits] += 1
    folds = np.empty(n, np.int64)
    for fold, chunk in enumerate(np.split(order, np.cumsum(sizes)[:-1])):
        folds[chunk] = fold
    return folds


@dataclass
class NuInsSegImage:
    """One NuInsSeg image and its files."""

    folder: str
    stem: str
    species: str
    organ: str
    location: str
    image: str
    instances: str
    vague: str  # '' when the image has no vague-area mask
    fold: int = -1


def discover_nuinsseg(raw_dir: str, skipped: Optional[SkippedInputs] = None
                      ) -> List[NuInsSegImage]:
    """All images under ``raw_dir`` with their fold, in natural path order.

    Args:
        raw_dir: The unpacked archive.
        skipped: With it, badly named folders are recorded there and left
            out (the folds of the others stay the official ones); without
            it they raise :class:`BadInputError`.

    Raises:
        MissingDownloadError: no such folder, or no images in it.
        BadDownloadError: one image stem in two folders.
    """
    require_folder(raw_dir, '"<species> <organ>/tissue images/*.png" folders')
    items, seen = [], {}
    for folder in sorted(os.listdir(raw_dir), key=natural_key):
        image_dir = osp.join(raw_dir, folder, IMAGES)
        if not osp.isdir(image_dir):
            continue
        try:
            species, organ, location = parse_folder_name(folder)
        except BadInputError as err:
            if skipped is None:
                raise BadInputError(f'{osp.join(raw_dir, folder)}: {err}') from None
            skipped.add(osp.join(raw_dir, folder), err)
            continue
        for name in os.listdir(image_dir):
            stem, ext = osp.splitext(name)
            if ext.lower() != '.png':
                continue
            image = osp.join(image_dir, name)
            if stem in seen:
                raise BadDownloadError(f'image {stem} is in the download twice ({seen[stem]} and '
                                       f'{image}); its tiles would collide: keep one')
            seen[stem] = image
            vague = osp.join(raw_dir, folder, VAGUE, f'{stem}.png')
            items.append(NuInsSegImage(
                folder=folder, stem=stem, species=species, organ=organ, location=location,
                image=image, instances=osp.join(raw_dir, folder, INSTANCES, f'{stem}.tif'),
                vague=vague if osp.isfile(vague) else ''))
    if not items:
        raise MissingDownloadError(f'{raw_dir}: no "<species> <organ>/{IMAGES}/*.png" found; '
                                   'pass the unpacked NuInsSeg archive')
    items.sort(key=lambda item: natural_key(osp.relpath(item.image, raw_dir)))
    for item, fold in zip(items, kfold_assignments(len(items))):
        item.fold = int(fold)
    return items


def contour_target(instances: np.ndarray, width: int) -> np.ndarray:
    """0 background, 1 interior, 2 boundary: nucleus pixels whose
    ``(2 * width + 1)``-px square neighbourhood holds another id."""
    if width < 1:
        raise ValueError(f'contour width must be >= 1 pixel, got {width}')
    kernel = np.ones((2 * width + 1, 2 * width + 1), np.uint8)
    ids = instances.astype(np.uint16)
    edge = cv2.dilate(ids, kernel) != cv2.erode(ids, kernel)
    return np.where(instances > 0, np.where(edge, 2, 1), 0).astype(np.uint8)


def _labels(item: NuInsSegImage) -> NucleusLabels:
    """One image's RGB, instance ids and nucleus/ignore map."""
    image = read_rgb_image(item.image)
    shape = image.shape[:2]
    if not osp.isfile(item.instances):
        raise MissingInputError(f'{item.image}: its label mask {item.instances} is missing; '
                                're-extract the archive')
    instances = read_label_image(item.instances)
    if instances.shape != shape:
        raise BadInputError(f'{item.instances}: mask size {instances.shape} differs from image '
                            f'{item.image} size {shape}; re-extract both from the archive')
    types = (instances > 0).astype(np.uint8)
    if item.vague:
        vague = read_label_image(item.vague)
        if vague.shape != shape:
            raise BadInputError(f'{item.vague}: vague-area size {vague.shape} differs from image '
                                f'{item.image} size {shape}; re-extract both from the archive')
        types[vague == 255] = IGNORE
    return NucleusLabels(image, instances.astype(np.int64), types)


def _contour(width: int):
    """``masks_contour`` of (resampled) labels: ignore where the mask is."""
    def make(labels: NucleusLabels) -> np.ndarray:
        target = contour_target(labels.instances, width)
        target[labels.types == IGNORE] = IGNORE
        return target
    return make


def _image(item: NuInsSegImage) -> NucleiImage:
    try:
        with Image.open(item.image) as im:
            width, height = im.size
    except (OSError, SyntaxError) as err:
        raise ImageReadError(f'{item.image}: unreadable image ({err}); re-extract it from the '
                             'archive') from None
    return NucleiImage(
        name=item.stem, size=(height, width), mpp=NUINSSEG_MPP, load=lambda: _labels(item),
        fields=dict(dataset='nuinsseg', species=item.species, organ=item.organ,
                    location=item.location, slide=item.stem, case=item.stem, split='',
                    fold=f'fold{item.fold}', origin='nuinsseg', patient=''))


def convert_nuinsseg(raw_dir: str, out_dir: str, tile: Optional[int] = None,
                     skip_bad: bool = False, contour: int = 0, workers: int = 1,
                     mpp: Optional[float] = None) -> ConversionSummary:
    """Convert the whole archive; every image is kept (no background test).

    Args:
        raw_dir: The unpacked archive.
        out_dir: Output dataset folder.
        tile: Tile side; default: the largest image side after resampling
            (512 in the real archive), so each image is one tile.
        skip_bad: Record unusable images in ``skipped.csv`` and go on.
        contour: Boundary width (px) of the 3-class contour target; 0: none.
        workers: Images converted at once (processes, one image each); the
            output is the same whatever their number.
        mpp: Resample every image to this um/px first, instance by instance
            (:mod:`.nuclei`); None keeps the archive's (~0.25).
    """
    skipped = SkippedInputs() if skip_bad else None
    images = build_sources(discover_nuinsseg(raw_dir, skipped), _image,
                           lambda item: item.image, skipped)
    tile = tile or max((max(target_shape(i.size, i.mpp, mpp)) for i in images), default=1)
    extra = {'masks_contour': _contour(contour)} if contour else None
    options = {'masks_contour': dict(width=contour)} if contour else None
    return convert_nuclei(images, out_dir, desc='NuInsSeg', mpp=mpp, tile=tile,
                          skipped=skipped, workers=workers, extra_labels=extra,
                          label_options=options)
