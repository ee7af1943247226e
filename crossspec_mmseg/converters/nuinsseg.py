"""NuInsSeg (H&E nuclei, human and mouse organs) -> tiles + manifest.

Reads the unpacked Zenodo/Kaggle archive as it is: top-level folders
``<species> <organ>`` (spaces, the ``salivory gland``/``tonsile`` spellings,
``_location`` suffixes such as ``muscle_tibia``), discovered by listing. Per
image (stem shared across sub-folders):

* ``tissue images/<stem>.png``: RGB (some RGBA: alpha dropped);
* ``label masks modify/<stem>.tif``: uint16 instances -> nucleus = 1;
* ``vague areas/mask binary/<stem>.png`` (optional; unconfirmed that every
  image has one, absent = no ignore region): 255 -> ignore (255).

Split: the official 5-fold ``KFold(n_splits=5, shuffle=True, random_state=19)``
over the naturally sorted image paths, written as ``fold0`` ... ``fold4``.
"""
from __future__ import annotations

import os
import os.path as osp
import re
from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np
from PIL import Image

from .errors import BadInputError, MissingInputError
from .raster import ArrayReader, ImageReadError, read_label_image, read_rgb_image
from .tiling import (ConversionSummary, SkippedInputs, SourceImage, TilingConfig, build_sources,
                     convert_sources)

__all__ = ['NuInsSegImage', 'natural_key', 'parse_folder_name', 'kfold_assignments',
           'discover_nuinsseg', 'convert_nuinsseg']

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
        raise ValueError(f'NuInsSeg folder {name!r} is not "<species> <organ>"')
    species, rest = parts[0].lower(), parts[1].lower()
    organ, _, location = rest.partition('_')
    return species, organ.strip(), location.strip()


def kfold_assignments(n: int, n_splits: int = 5, seed: int = 19) -> np.ndarray:
    """Fold of each item, identical to scikit-learn's
    ``KFold(n_splits, shuffle=True, random_state=seed)`` test folds."""
    if n < n_splits:
        raise ValueError(f'{n} images cannot make {n_splits} folds')
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


def discover_nuinsseg(raw_dir: str) -> List[NuInsSegImage]:
    """All images under ``raw_dir`` with their fold, in natural path order."""
    if not osp.isdir(raw_dir):
        raise FileNotFoundError(f'NuInsSeg folder not found: {raw_dir}')
    items = []
    for folder in sorted(os.listdir(raw_dir), key=natural_key):
        image_dir = osp.join(raw_dir, folder, IMAGES)
        if not osp.isdir(image_dir):
            continue
        species, organ, location = parse_folder_name(folder)
        for name in os.listdir(image_dir):
            stem, ext = osp.splitext(name)
            if ext.lower() != '.png':
                continue
            vague = osp.join(raw_dir, folder, VAGUE, f'{stem}.png')
            items.append(NuInsSegImage(
                folder=folder, stem=stem, species=species, organ=organ, location=location,
                image=osp.join(image_dir, name),
                instances=osp.join(raw_dir, folder, INSTANCES, f'{stem}.tif'),
                vague=vague if osp.isfile(vague) else ''))
    if not items:
        raise FileNotFoundError(f'{raw_dir}: no "<species> <organ>/{IMAGES}/*.png" found')
    items.sort(key=lambda item: natural_key(osp.relpath(item.image, raw_dir)))
    for item, fold in zip(items, kfold_assignments(len(items))):
        item.fold = int(fold)
    return items


def _semantic_mask(item: NuInsSegImage, shape: Tuple[int, int]) -> np.ndarray:
    if not osp.isfile(item.instances):
        raise MissingInputError(f'{item.image}: its label mask {item.instances} is missing; '
                                're-extract the archive')
    instances = read_label_image(item.instances)
    if instances.shape != shape:
        raise BadInputError(f'{item.instances}: mask size {instances.shape} differs from image '
                            f'{item.image} size {shape}; re-extract both from the archive')
    mask = (instances > 0).astype(np.uint8)
    if item.vague:
        vague = read_label_image(item.vague)
        if vague.shape != shape:
            raise BadInputError(f'{item.vague}: vague-area size {vague.shape} differs from image '
                                f'{item.image} size {shape}; re-extract both from the archive')
        mask[vague == 255] = 255
    return mask


def _source(item: NuInsSegImage) -> SourceImage:
    try:
        with Image.open(item.image) as im:
            width, height = im.size
    except (OSError, SyntaxError) as err:
        raise ImageReadError(f'{item.image}: unreadable image ({err}); re-extract it from the '
                             'archive') from None
    cache = {}

    def load():
        image = read_rgb_image(item.image)
        cache['mask'] = _semantic_mask(item, image.shape[:2])
        return ArrayReader(image)

    return SourceImage(
        name=item.stem, size=(height, width), open_reader=load,
        labels={'masks': lambda x, y, w, h: cache['mask'][y:y + h, x:x + w]},
        fields=dict(dataset='nuinsseg', species=item.species, organ=item.organ,
                    location=item.location, slide=item.stem, group=item.stem,
                    split=f'fold{item.fold}'))


def convert_nuinsseg(raw_dir: str, out_dir: str, tile: Optional[int] = None,
                     skip_bad: bool = False) -> ConversionSummary:
    """Convert the whole archive; every image is kept (no background test).

    Args:
        raw_dir: The unpacked archive.
        out_dir: Output dataset folder.
        tile: Tile side; default: the largest image side (512 in the real
            archive), so each image is one tile.
        skip_bad: Record unusable images in ``skipped.csv`` and go on.
    """
    skipped = SkippedInputs() if skip_bad else None
    sources = build_sources(discover_nuinsseg(raw_dir), _source, lambda item: item.image, skipped)
    tile = tile or max((max(s.size) for s in sources), default=1)
    tiling = TilingConfig(tile=tile, overlap=0.0, scale=1.0, min_tissue=0.0)
    return convert_sources(sources, out_dir, tiling, desc='NuInsSeg', skipped=skipped)
