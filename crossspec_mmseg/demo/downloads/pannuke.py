"""A tiny PanNuke download (``Fold k/images/foldk/images.npy`` ...) with every
quirk the converter handles, and ways to corrupt it."""
from __future__ import annotations

import os
import os.path as osp
from collections import Counter
from typing import Dict, List

import numpy as np

from ...converters.pannuke import (
    CLASS_AND_BACKGROUND,
    COLLIDING,
    HIDDEN,
    NO_CHANNEL,
    PANNUKE_MPP,
    REUSED,
    TWO_CHANNELS,
)
from ..nuclei_appearance import dataset_labels

__all__ = ['TISSUES', 'draw_nuclei', 'write_pannuke_raw', 'pannuke_paths', 'corrupt_pannuke']

TISSUES = ('Adrenal_gland', 'Colon', 'HeadNeck', 'Bile-duct')
#: Ids start here, so every download holds ids above 255.
FIRST_ID = 250


def draw_nuclei(rng: np.random.Generator, shape, count: int, radius=(3, 6),
                gap: int = 2) -> np.ndarray:
    """Up to ``count`` discs, ids 1..n, apart by at least ``gap`` px (so each
    is one connected region and none touch)."""
    height, width = shape
    ids = np.zeros(shape, np.int64)
    placed: List[tuple] = []
    for _ in range(count * 20):
        if len(placed) == count:
            break
        r = float(rng.uniform(*radius))
        cy, cx = rng.uniform(r, height - r), rng.uniform(r, width - r)
        if all(np.hypot(cy - y, cx - x) > r + s + gap for y, x, s in placed):
            placed.append((cy, cx, r))
            y0, x0 = int(cy - r), int(cx - r)
            yy, xx = np.mgrid[y0:min(int(cy + r) + 1, height), x0:min(int(cx + r) + 1, width)]
            ids[y0:y0 + yy.shape[0], x0:x0 + yy.shape[1]][
                (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] = len(placed)
    return ids


def pannuke_paths(root: str, fold: int) -> Dict[str, str]:
    """The three files of fold ``fold`` under ``root``."""
    base = osp.join(root, f'Fold {fold}')
    return dict(images=osp.join(base, 'images', f'fold{fold}', 'images.npy'),
                types=osp.join(base, 'images', f'fold{fold}', 'types.npy'),
                masks=osp.join(base, 'masks', f'fold{fold}', 'masks.npy'))


def _patch(rng: np.random.Generator, size: int, quirk: str, planted: Counter,
           appearance=None):
    """One patch's float64 image and 6-channel mask, with ``quirk`` planted
    (with ``appearance``: its nuclei, pixels and types)."""
    if appearance is None:
        ids = draw_nuclei(rng, (size, size), count=max(4, size // 12))
        n = int(ids.max())
        channel_of = rng.integers(0, 5, n + 1)
    else:
        drawn = appearance.render(rng, (size, size), PANNUKE_MPP)
        ids, n = drawn.instances.astype(np.int64), len(drawn.types)
        channel_of = np.concatenate([[0], dataset_labels('pannuke')[drawn.types] - 1])
    mask = np.zeros((size, size, 6), np.float64)
    for i in range(1, n + 1):
        mask[..., channel_of[i]][ids == i] = FIRST_ID + 3 * i
    if quirk == 'two channels':  # nucleus 1 annotated again in a neighbouring channel
        again = channel_of[1] + 1 if channel_of[1] < 4 else 3
        mask[..., again][ids == 1] = 1
        planted[TWO_CHANNELS] += int((ids == 1).sum())
        planted[HIDDEN] += 1  # one of the two copies
    if quirk == 'reused id':  # nuclei 1 and 2 share an id in one channel
        for i in (1, 2):
            for c in range(5):
                mask[..., c][ids == i] = 0
            mask[..., 0][ids == i] = FIRST_ID + 3
        planted[REUSED] += 1
    if quirk == 'colliding ids':  # nuclei 1 and 2: one id, two channels
        for i, c in ((1, 0), (2, 2)):
            for cc in range(5):
                mask[..., cc][ids == i] = 0
            mask[..., c][ids == i] = 7
        planted[COLLIDING] += 1
    mask[..., 5] = (ids == 0).astype(np.float64)
    if quirk == 'no channel':  # a background square left out of channel 5
        hole = (slice(0, 3), slice(0, 3))
        free = ids[hole] == 0
        mask[..., 5][hole][free] = 0
        planted[NO_CHANNEL] += int(free.sum())
    if quirk == 'class and background':
        mask[..., 5][ids == 1] = 1
        planted[CLASS_AND_BACKGROUND] += int((ids == 1).sum())
    if appearance is not None:
        return drawn.image.astype(np.float64), mask
    image = rng.integers(120, 230, (size, size, 3)).astype(np.float64)
    image[ids > 0] = rng.integers(40, 110, 3)
    return image, mask


QUIRKS = ('two channels', 'reused id', 'colliding ids', 'no channel', 'class and background')


def write_pannuke_raw(root: str, patches: int = 3, size: int = 64, folds=(1, 2, 3),
                      seed: int = 0, appearance=None) -> Counter:
    """Write folds ``folds`` of ``patches`` patches each; fold 1 holds one
    patch per quirk (after ``patches`` plain ones). With ``appearance`` (a
    :class:`~crossspec_mmseg.demo.nuclei_appearance.NucleiAppearance`) the
    nuclei are its hidden types, drawn at PanNuke's um/px, in PanNuke's classes.

    Returns:
        The quirks planted, counted as the converter names them.
    """
    rng = np.random.default_rng(seed)
    planted = Counter()
    for fold in folds:
        kinds = [''] * patches + (list(QUIRKS) if fold == folds[0] else [])
        pairs = [_patch(rng, size, kind, planted, appearance) for kind in kinds]
        paths = pannuke_paths(root, fold)
        for path in paths.values():
            os.makedirs(osp.dirname(path), exist_ok=True)
        np.save(paths['images'], np.stack([p[0] for p in pairs]))
        np.save(paths['masks'], np.stack([p[1] for p in pairs]))
        np.save(paths['types'], np.array([TISSUES[i % len(TISSUES)] for i in range(len(kinds))]))
    return +planted


def corrupt_pannuke(root: str, fold: int, how: str) -> str:
    """Damage fold ``fold``; the damaged file's path.

    ``how``: ``'truncate'`` (masks.npy cut in half), ``'shape'`` (types.npy
    one name short) or ``'fraction'`` (a non-integer id in patch 0 of
    masks.npy: one bad patch).
    """
    paths = pannuke_paths(root, fold)
    if how == 'truncate':
        with open(paths['masks'], 'rb') as f:
            data = f.read()
        with open(paths['masks'], 'wb') as f:
            f.write(data[:len(data) // 2])
        return paths['masks']
    if how == 'shape':
        np.save(paths['types'], np.load(paths['types'])[:-1])
        return paths['types']
    if how == 'fraction':
        masks = np.load(paths['masks'], mmap_mode='r+')
        masks[0, 0, 0, 0] = 0.5
        masks.flush()
        return paths['masks']
    raise ValueError(f'unknown corruption {how!r}')
