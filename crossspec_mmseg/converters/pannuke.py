"""PanNuke (19 tissues, 5 nucleus types, 3 folds) -> tiles + manifest.

Reads the download as distributed: ``Fold k/images/foldk/images.npy``
(N, 256, 256, 3) float64 RGB 0..255, ``Fold k/images/foldk/types.npy`` (N,)
tissue names and ``Fold k/masks/foldk/masks.npy`` (N, 256, 256, 6) float64,
memory-mapped (a fold is 8 GB; each patch reads its own slice). Channels 0..4
hold instance ids of neoplastic, inflammatory, connective, dead and
epithelial nuclei (ids exceed 255: never cast to uint8); channel 5 is
non-zero on background. Each patch becomes one image ``pannuke_foldk_NNNN``
with type = channel + 1 (0 background, 255 ignore) and the ids as in the
download where they are unambiguous.

Quirks of the download, each counted in the conversion summary:

* ``pixels in two class channels``: type ignore (255), since either type
  could be wrong; the pixel's instance is the lowest channel's (so a nucleus
  annotated twice stays one instance, with its type ignored).
  ``instances hidden under a lower channel`` counts the instances that lose
  every pixel that way (the duplicate of a nucleus annotated twice).
* ``pixels in no channel and not background``: ignore (255), no instance
  (what they are is unknown).
* ``pixels in a class channel and the background channel``: the class
  channel wins (the types come from channels 0..4, never from channel 5).
* ``ids reused for disconnected components``: each 8-connected piece becomes
  its own instance (the largest keeps the id, the others get new ids above
  the patch's largest), since one nucleus is one connected region.
* ``ids colliding across channels``: one id value in two channels is two
  nuclei; the lowest channel keeps it, the others get new ids.

A fold whose files are missing, truncated or of mismatched shapes stops the
conversion naming the file (with ``--skip-bad``: the fold is left out and
listed in ``skipped.csv``); so does a patch with non-integer or negative ids
or pixel values outside 0..255 (with ``--skip-bad``: that patch).

Manifest: ``fold`` = ``fold1``..``fold3``, ``split`` empty (configs choose
the rotation), ``organ`` the tissue name in lower case, ``case`` and
``slide`` the patch (PanNuke does not reveal patients), ``origin``
``pannuke``.
"""
from __future__ import annotations

import os
import os.path as osp
import re
from collections import Counter
from dataclasses import dataclass
from typing import List, Optional

import numpy as np

from .errors import BadInputError, MissingDownloadError, require_folder
from .nuclei import NucleiImage, NucleusLabels, convert_nuclei, load_npy, split_disconnected
from .tiling import ConversionSummary, SkippedInputs, build_sources

__all__ = ['PANNUKE_CLASSES', 'PANNUKE_MPP', 'PanNukeFold', 'discover_pannuke', 'pannuke_labels',
           'convert_pannuke']

PANNUKE_CLASSES = ('background', 'neoplastic', 'inflammatory', 'connective', 'dead',
                   'epithelial')
#: 40x scans.
PANNUKE_MPP = 0.25
TWO_CHANNELS = 'pixels in two class channels'
HIDDEN = 'instances hidden under a lower channel'
NO_CHANNEL = 'pixels in no channel and not background'
CLASS_AND_BACKGROUND = 'pixels in a class channel and the background channel'
REUSED = 'ids reused for disconnected components'
COLLIDING = 'ids colliding across channels'
_FOLD_DIR = re.compile(r'fold\s*(\d+)$', re.IGNORECASE)


@dataclass
class PanNukeFold:
    """One fold's three files, memory-mapped once checked."""

    number: int
    images_path: str
    types_path: str
    masks_path: str
    images: Optional[np.ndarray] = None
    masks: Optional[np.ndarray] = None
    tissues: Optional[np.ndarray] = None

    @property
    def name(self) -> str:
        return f'fold{self.number}'


def _open_fold(fold: PanNukeFold) -> PanNukeFold:
    """Map the fold's arrays and check they belong together."""
    images = load_npy(fold.images_path, mmap=True)
    masks = load_npy(fold.masks_path, mmap=True)
    tissues = load_npy(fold.types_path, mmap=False)
    if images.ndim != 4 or images.shape[3] != 3:
        raise BadInputError(f'{fold.images_path}: shape {images.shape}, expected (N, H, W, 3)')
    if masks.ndim != 4 or masks.shape[3] != 6:
        raise BadInputError(f'{fold.masks_path}: shape {masks.shape}, expected (N, H, W, 6)')
    if masks.shape[:3] != images.shape[:3]:
        raise BadInputError(f'{fold.masks_path}: shape {masks.shape} does not match '
                            f'{fold.images_path} {images.shape}; download the fold again')
    if tissues.shape != images.shape[:1] or tissues.dtype.kind not in 'US':
        raise BadInputError(f'{fold.types_path}: {tissues.dtype} {tissues.shape}, expected '
                            f'{images.shape[0]} tissue names')
    fold.images, fold.masks, fold.tissues = images, masks, tissues.astype(str)
    return fold


def discover_pannuke(raw_dir: str, skipped: Optional[SkippedInputs] = None
                     ) -> List[PanNukeFold]:
    """The folds under ``raw_dir`` (``Fold 1``..``Fold 3``; any present),
    mapped and checked; with ``skipped``, a bad fold is recorded and left out."""
    require_folder(raw_dir, '"Fold 1/", "Fold 2/", "Fold 3/"')
    folds = []
    for entry in sorted(os.listdir(raw_dir)):
        match = _FOLD_DIR.match(entry)
        if not match or not osp.isdir(osp.join(raw_dir, entry)):
            continue
        k = int(match.group(1))
        base = osp.join(raw_dir, entry)
        folds.append(PanNukeFold(
            k, osp.join(base, 'images', f'fold{k}', 'images.npy'),
            osp.join(base, 'images', f'fold{k}', 'types.npy'),
            osp.join(base, 'masks', f'fold{k}', 'masks.npy')))
    if not folds:
        raise MissingDownloadError(f'{raw_dir}: no "Fold k/" folders; pass the folder holding '
                                   'the unpacked PanNuke folds')
    folds.sort(key=lambda fold: fold.number)
    return build_sources(folds, _open_fold, lambda fold: osp.join(raw_dir, f'Fold {fold.number}'),
                         skipped)


def _integer_ids(layers: np.ndarray, where: str) -> np.ndarray:
    if not np.isfinite(layers).all() or (layers < 0).any() or (layers % 1).any():
        raise BadInputError(f'{where}: instance ids must be non-negative integers')
    return layers.astype(np.int64)


def pannuke_labels(image: np.ndarray, mask: np.ndarray, where: str = 'patch') -> NucleusLabels:
    """One patch's labels from its ``(H, W, 3)`` image and ``(H, W, 6)`` mask
    (quirks resolved and counted as in the module docstring)."""
    if not np.isfinite(image).all() or image.min() < 0 or image.max() > 255:
        raise BadInputError(f'{where}: image values outside 0..255')
    layers = _integer_ids(np.asarray(mask[..., :5]), where)
    background = np.asarray(mask[..., 5]) != 0
    quirks = Counter()
    in_class = layers > 0
    channels = in_class.sum(axis=2)
    quirks[TWO_CHANNELS] = int((channels > 1).sum())
    quirks[NO_CHANNEL] = int(((channels == 0) & ~background).sum())
    quirks[CLASS_AND_BACKGROUND] = int(((channels > 0) & background).sum())
    instances = np.zeros(layers.shape[:2], np.int64)
    types = np.zeros(layers.shape[:2], np.uint8)
    next_id, used = int(layers.max(initial=0)) + 1, set()
    for channel in range(5):
        layer, split = split_disconnected(layers[..., channel], first_new_id=next_id)
        quirks[REUSED] += split
        next_id = max(next_id, int(layer.max(initial=0)) + 1)
        ids = set(np.unique(layer[layer > 0]).tolist())
        for clash in sorted(ids & used):
            quirks[COLLIDING] += 1
            layer[layer == clash] = next_id
            ids = (ids - {clash}) | {next_id}
            next_id += 1
        used |= ids
        free = (layer > 0) & (instances == 0)
        instances[free], types[free] = layer[free], channel + 1
        quirks[HIDDEN] += len(ids - set(np.unique(instances[layer > 0]).tolist()))
    types[channels > 1] = 255
    types[(channels == 0) & ~background] = 255
    rgb = np.rint(image).astype(np.uint8)
    return NucleusLabels(rgb, instances, types, +quirks)


def _patch(fold: PanNukeFold, index: int) -> NucleiImage:
    name = f'pannuke_{fold.name}_{index:04d}'

    def load() -> NucleusLabels:
        where = f'{fold.masks_path} patch {index}'
        try:
            image, mask = np.asarray(fold.images[index]), np.asarray(fold.masks[index])
        except (OSError, ValueError) as err:
            raise BadInputError(f'{where}: unreadable ({err})') from None
        return pannuke_labels(image, mask, where)

    height, width = fold.images.shape[1:3]
    return NucleiImage(
        name=name, size=(height, width), mpp=PANNUKE_MPP, load=load,
        fields=dict(dataset='pannuke', species='human', organ=str(fold.tissues[index]).lower(),
                    slide=name, case=name, split='', fold=fold.name, origin='pannuke',
                    patient=''))


def convert_pannuke(raw_dir: str, out_dir: str, mpp: Optional[float] = None, tile: int = 256,
                    skip_bad: bool = False, workers: int = 1) -> ConversionSummary:
    """Convert every fold under ``raw_dir`` (see the module docstring).

    Args:
        raw_dir: Folder holding ``Fold 1/``, ``Fold 2/``, ``Fold 3/``.
        out_dir: Output dataset folder.
        mpp: Resample patches to this um/px (instance by instance) first.
        tile: Tile side (256: one tile per patch at the native um/px).
        skip_bad: Leave bad folds/patches out, listed in ``skipped.csv``.
        workers: Patches converted at once, in forked processes.
    """
    skipped = SkippedInputs() if skip_bad else None
    folds = discover_pannuke(raw_dir, skipped)
    patches = [_patch(fold, i) for fold in folds for i in range(fold.images.shape[0])]
    return convert_nuclei(patches, out_dir, desc='PanNuke', mpp=mpp, tile=tile,
                          skipped=skipped, workers=workers)

