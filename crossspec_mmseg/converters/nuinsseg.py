"""NuInsSeg (H&E nuclei, human and mouse organs) -> tiles + manifest.

Reads the unpacked Zenodo/Kaggle archive as it is: top-level folders
``<species> <organ>`` (spaces, the ``salivory gland``/``tonsile`` spellings,
``_location`` suffixes such as ``muscle_tibia``), discovered by listing. Per
image (stem shared across sub-folders):

* ``tissue images/<stem>.png``: RGB (some RGBA: alpha dropped);
* ``label masks modify/<stem>.tif``: uint16 instances -> nucleus = 1;
* ``vague areas/mask binary/<stem>.png`` (optional; unconfirmed that every
  image has one, absent = no ignore region): 255 -> ignore (255).

Besides the semantic mask (``masks/``, column ``mask``) each tile's instance
map is kept as a 16-bit PNG (``instances/``, column ``instance``; ids as in
the archive, 0 background; vague areas are ignore in the semantic mask
beside it). With ``contour=WIDTH`` a 3-class target is added
(``masks_contour/``, column ``mask_contour``): 0 background, 1 nucleus
interior, 2 boundary (the pixels of a nucleus within ``WIDTH`` px of another
id, background included, measured on the whole image), 255 ignore.

A folder that holds ``tissue images/`` but is not named ``<species> <organ>``
(e.g. ``kidney_extra``) stops the conversion with its name, since its species
is unknown; with ``--skip-bad`` it is left out and listed in ``skipped.csv``.
Folders without ``tissue images/`` (notes, zips) are ignored.

Split: the official 5-fold ``KFold(n_splits=5, shuffle=True, random_state=19)``
over the naturally sorted image paths, written as ``fold0`` ... ``fold4``.
"""
from __future__ import annotations

import os
import os.path as osp
import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

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
from .raster import ArrayReader, ImageReadError, read_label_image, read_rgb_image
from .tiling import (
    ConversionSummary,
    SkippedInputs,
    SourceImage,
    TilingConfig,
    build_sources,
    convert_sources,
)

__all__ = ['NuInsSegImage', 'natural_key', 'parse_folder_name', 'kfold_assignments',
           'discover_nuinsseg', 'contour_target', 'convert_nuinsseg']

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


def _labels(item: NuInsSegImage, shape: Tuple[int, int], contour: int) -> Dict[str, np.ndarray]:
    """The label maps of one image, by output folder."""
    if not osp.isfile(item.instances):
        raise MissingInputError(f'{item.image}: its label mask {item.instances} is missing; '
                                're-extract the archive')
    instances = read_label_image(item.instances)
    if instances.shape != shape:
        raise BadInputError(f'{item.instances}: mask size {instances.shape} differs from image '
                            f'{item.image} size {shape}; re-extract both from the archive')
    if instances.max(initial=0) > np.iinfo(np.uint16).max or instances.min(initial=0) < 0:
        raise BadInputError(f'{item.instances}: instance ids outside 0..65535; re-extract it')
    labels = dict(masks=(instances > 0).astype(np.uint8), instances=instances.astype(np.uint16))
    if contour:
        labels['masks_contour'] = contour_target(instances, contour)
    if item.vague:
        vague = read_label_image(item.vague)
        if vague.shape != shape:
            raise BadInputError(f'{item.vague}: vague-area size {vague.shape} differs from image '
                                f'{item.image} size {shape}; re-extract both from the archive')
        for name in ('masks', 'masks_contour'):
            if name in labels:
                labels[name][vague == 255] = 255
    return labels


def _source(item: NuInsSegImage, contour: int = 0) -> SourceImage:
    try:
        with Image.open(item.image) as im:
            width, height = im.size
    except (OSError, SyntaxError) as err:
        raise ImageReadError(f'{item.image}: unreadable image ({err}); re-extract it from the '
                             'archive') from None
    cache = {}

    def load():
        image = read_rgb_image(item.image)
        cache.update(_labels(item, image.shape[:2], contour))
        return ArrayReader(image)

    def window(name):
        return lambda x, y, w, h: cache[name][y:y + h, x:x + w]

    folders = ['masks', 'instances'] + (['masks_contour'] if contour else [])
    return SourceImage(
        name=item.stem, size=(height, width), open_reader=load,
        labels={name: window(name) for name in folders}, pad_values=dict(instances=0),
        fields=dict(dataset='nuinsseg', species=item.species, organ=item.organ,
                    location=item.location, slide=item.stem, group=item.stem,
                    split=f'fold{item.fold}'))


def convert_nuinsseg(raw_dir: str, out_dir: str, tile: Optional[int] = None,
                     skip_bad: bool = False, contour: int = 0,
                     workers: int = 1) -> ConversionSummary:
    """Convert the whole archive; every image is kept (no background test).

    Args:
        raw_dir: The unpacked archive.
        out_dir: Output dataset folder.
        tile: Tile side; default: the largest image side (512 in the real
            archive), so each image is one tile.
        skip_bad: Record unusable images in ``skipped.csv`` and go on.
        contour: Boundary width (px) of the 3-class contour target; 0: none.
        workers: Images converted at once (processes, one image each); the
            output is the same whatever their number.
    """
    skipped = SkippedInputs() if skip_bad else None
    sources = build_sources(discover_nuinsseg(raw_dir, skipped),
                            lambda item: _source(item, contour),
                            lambda item: item.image, skipped)
    tile = tile or max((max(s.size) for s in sources), default=1)
    tiling = TilingConfig(tile=tile, overlap=0.0, scale=1.0, min_tissue=0.0)
    options = {'masks_contour': dict(width=contour)} if contour else None
    return convert_sources(sources, out_dir, tiling, desc='NuInsSeg', skipped=skipped,
                           label_options=options, workers=workers)
