"""Tiny Lizard and CoNIC downloads in their distributed layouts, with their
quirks, and ways to corrupt them."""
from __future__ import annotations

import csv
import os
import os.path as osp
from collections import Counter
from typing import Dict, Optional, Tuple

import cv2
import numpy as np
import scipy.io

from ...converters.lizard import ABSENT, MIXED, STRAY, UNCLASSED
from .pannuke import draw_nuclei

__all__ = ['LIZARD_IMAGES', 'write_lizard_raw', 'lizard_label_path', 'corrupt_lizard',
           'write_conic_raw', 'corrupt_conic']

#: Image stem -> (height, width): one per collection Lizard drew from.
LIZARD_IMAGES = {'consep_1': (80, 96), 'crag_2': (72, 72), 'dpath_3': (64, 88),
                 'glas_4': (96, 64), 'pannuke_5': (64, 64)}
#: Ids start here, so every download holds ids above 255.
FIRST_ID = 300


def _render(rng: np.random.Generator, ids: np.ndarray) -> np.ndarray:
    """An H&E-ish RGB image with dark nuclei where ``ids`` > 0."""
    image = rng.integers(150, 235, ids.shape + (3,)).astype(np.uint8)
    image[ids > 0] = rng.integers(40, 110, 3).astype(np.uint8)
    return image


def _write_png(path: str, rgb: np.ndarray) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    if not cv2.imwrite(path, np.ascontiguousarray(rgb[..., ::-1])):
        raise OSError(f'could not write {path}')


def lizard_label_path(root: str, stem: str) -> str:
    return osp.join(root, 'lizard_labels', 'Lizard_Labels', 'Labels', f'{stem}.mat')


def _write_mat(path: str, inst: np.ndarray, ids: np.ndarray, classes: np.ndarray,
               drop: Tuple[str, ...] = ()) -> None:
    """A Lizard label file (MATLAB v5) with the distributed keys and dtypes."""
    boxes, centroids = [], []
    for i in ids:
        ys, xs = np.nonzero(inst == i)
        boxes.append([ys.min(), ys.max() + 1, xs.min(), xs.max() + 1] if ys.size else [0] * 4)
        centroids.append([xs.mean(), ys.mean()] if ys.size else [0.0, 0.0])
    data = dict(inst_map=inst.astype(np.int32), id=ids.reshape(-1, 1).astype(np.int32),
                **{'class': classes.reshape(-1, 1).astype(np.int32)},
                bbox=np.array(boxes, np.int32).reshape(-1, 4),
                centroid=np.array(centroids, np.float64).reshape(-1, 2))
    os.makedirs(osp.dirname(path), exist_ok=True)
    scipy.io.savemat(path, {k: v for k, v in data.items() if k not in drop}, format='5')


def write_lizard_raw(root: str, images: Optional[Dict[str, Tuple[int, int]]] = None,
                     seed: int = 0) -> Counter:
    """Lizard as unpacked: ``lizard_images1/Lizard_Images1``, ``lizard_images2/
    Lizard_Images2``, ``lizard_labels/Lizard_Labels/{Labels/*.mat,info.csv}``,
    ``overlay/Overlay``. The first image has an instance missing from ``id``,
    the second lists an id absent from ``inst_map``.

    Returns:
        The quirks planted, named as the converter counts them.
    """
    images = images or LIZARD_IMAGES
    rng = np.random.default_rng(seed)
    planted = Counter()
    info = [('Filename', 'Source', 'Split')]
    for n, (stem, shape) in enumerate(images.items()):
        nuclei = draw_nuclei(rng, shape, count=max(3, shape[0] * shape[1] // 600))
        inst = np.where(nuclei > 0, nuclei + FIRST_ID, 0)
        ids = np.unique(inst[inst > 0])
        classes = rng.integers(1, 7, ids.size)
        if n == 0:  # an instance the id list forgets
            ids, classes = ids[1:], classes[1:]
            planted[UNCLASSED] += 1
        if n == 1:  # an id listed without pixels
            ids, classes = np.append(ids, 9999), np.append(classes, 2)
            planted[ABSENT] += 1
        part = 1 if n < len(images) // 2 else 2
        _write_png(osp.join(root, f'lizard_images{part}', f'Lizard_Images{part}', f'{stem}.png'),
                   _render(rng, inst))
        _write_png(osp.join(root, 'overlay', 'Overlay', f'{stem}.png'), _render(rng, inst))
        _write_mat(lizard_label_path(root, stem), inst, ids, classes)
        info.append((stem, stem.split('_')[0].upper(), str(n % 3 + 1)))
    with open(osp.join(root, 'lizard_labels', 'Lizard_Labels', 'info.csv'), 'w',
              newline='') as f:
        csv.writer(f).writerows(info)
    return +planted


def corrupt_lizard(root: str, stem: str, how: str) -> str:
    """Damage one image's ``.mat``; its path. ``how``: ``'no inst_map'``,
    ``'unknown class'`` (a class 9) or ``'truncate'``."""
    path = lizard_label_path(root, stem)
    if how == 'truncate':
        with open(path, 'rb') as f:
            data = f.read()
        with open(path, 'wb') as f:
            f.write(data[:len(data) // 2])
        return path
    mat = scipy.io.loadmat(path)
    inst, ids, classes = mat['inst_map'], mat['id'].ravel(), mat['class'].ravel()
    if how == 'unknown class':
        classes[0] = 9
        _write_mat(path, inst, ids, classes)
    elif how == 'no inst_map':
        _write_mat(path, inst, ids, classes, drop=('inst_map',))
    else:
        raise ValueError(f'unknown corruption {how!r}')
    return path


def write_conic_raw(root: str, patches: int = 6, size: int = 64, seed: int = 0) -> Counter:
    """CoNIC as released: ``images.npy``, ``labels.npy`` (uint16 [id, class]),
    ``counts.csv``, ``patch_info.csv``; patches come two per Lizard image.
    Patch 0 has an instance whose pixels hold two classes, patch 1 class
    pixels outside any instance.

    Returns:
        The quirks planted, named as the converter counts them.
    """
    rng = np.random.default_rng(seed)
    planted = Counter()
    images, labels, names = [], [], []
    sources = list(LIZARD_IMAGES)
    for k in range(patches):
        nuclei = draw_nuclei(rng, (size, size), count=max(3, size * size // 500))
        inst = np.where(nuclei > 0, nuclei + FIRST_ID, 0)
        ids = np.unique(inst[inst > 0])
        table = np.zeros(inst.max() + 1, np.int64)
        table[ids] = rng.integers(1, 7, ids.size)
        classes = table[inst]
        if k == 0:  # one nucleus, two classes (left half another one)
            first = inst == ids[0]
            left = first & (np.arange(size)[None, :] < np.nonzero(first)[1].mean())
            classes[left] = classes[first].max() % 6 + 1
            planted[MIXED] += 1
        if k == 1:  # class pixels without an instance
            stray = (slice(0, 2), slice(0, 2))
            free = inst[stray] == 0
            classes[stray][free] = 3
            planted[STRAY] += int(free.sum())
        images.append(_render(rng, inst))
        labels.append(np.stack([inst, classes], axis=-1).astype(np.uint16))
        names.append(f'{sources[k // 2 % len(sources)]}-{k % 2:04d}')
    os.makedirs(root, exist_ok=True)
    np.save(osp.join(root, 'images.npy'), np.stack(images))
    np.save(osp.join(root, 'labels.npy'), np.stack(labels))
    with open(osp.join(root, 'patch_info.csv'), 'w', newline='') as f:
        csv.writer(f).writerows([['patch_info']] + [[n] for n in names])
    with open(osp.join(root, 'counts.csv'), 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['neutrophil', 'epithelial', 'lymphocyte', 'plasma', 'eosinophil',
                         'connective'])
        for label in labels:
            ids, first = np.unique(label[..., 0], return_index=True)
            cls = label[..., 1].ravel()[first][ids > 0]
            writer.writerow([int((cls == c).sum()) for c in range(1, 7)])
    return +planted


def corrupt_conic(root: str, how: str) -> str:
    """Damage the CoNIC download; the damaged file. ``how``: ``'truncate'``
    (labels.npy cut in half) or ``'unknown class'`` (class 8 in patch 2)."""
    path = osp.join(root, 'labels.npy')
    if how == 'truncate':
        with open(path, 'rb') as f:
            data = f.read()
        with open(path, 'wb') as f:
            f.write(data[:len(data) // 2])
    elif how == 'unknown class':
        labels = np.load(path, mmap_mode='r+')
        labels[2, 0, 0, 1] = 8
        labels.flush()
    else:
        raise ValueError(f'unknown corruption {how!r}')
    return path
