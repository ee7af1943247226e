"""Pixel-level checks of a manifest's tiles, done once when a dataset is built.

Every image must decode as 8-bit RGB(A) (OpenCV, as ``LoadImageFromFile``),
every mask as one 8-bit channel of the image's size (Pillow, as MMSeg's
``LoadAnnotations``: palette PNGs give their indices) with labels below
``num_classes`` or equal to ``ignore_index``. Files checked before are
remembered in ``.tile_checks.json`` beside the manifest (path -> size, mtime,
labels present), so only new or changed files are decoded again; the check
runs in threads with a progress bar. In a distributed run rank 0 checks (and
writes the cache) while the other ranks wait for its verdict.
"""
from __future__ import annotations

import contextlib
import json
import os
import os.path as osp
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from mmengine.dist import broadcast_object_list, get_dist_info
from PIL import Image
from tqdm import tqdm

from ..utils.atomic import atomic_path

__all__ = ['TileCheckError', 'check_tiles']

CACHE_NAME = '.tile_checks.json'
FIX = ('fix: delete the listed files and re-run the converter (it resumes and rewrites them), '
       'or remove their rows from the manifest')


class TileCheckError(ValueError):
    """Tiles a manifest lists that cannot be trained on (names each file)."""


def _stat(path: str) -> Tuple[int, int]:
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns


def _decode(path: str, size: int, reader) -> Tuple[Optional[np.ndarray], str]:
    if size == 0:
        return None, 'zero-byte file'
    try:
        image = reader(path)
    except (OSError, SyntaxError, ValueError):
        image = None
    return image, '' if image is not None else 'truncated or not an image'


def _read_image(path: str) -> Optional[np.ndarray]:
    return cv2.imread(path, cv2.IMREAD_UNCHANGED)


def _read_mask(path: str) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im)


def _check_pair(image_path: str, mask_path: str, sizes: Tuple[int, int]
                ) -> Tuple[List[str], Optional[List[int]]]:
    """Problems of one tile and the labels in its mask (``None`` if unreadable);
    ``sizes``: the two files' byte sizes."""
    problems = []
    image, why = _decode(image_path, sizes[0], _read_image)
    if image is None:
        problems.append(f'{image_path}: {why}')
    elif image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] not in (3, 4):
        problems.append(f'{image_path}: image is {image.dtype} with shape {image.shape}, '
                        'expected 8-bit RGB')
    mask, why = _decode(mask_path, sizes[1], _read_mask)
    if mask is None:
        problems.append(f'{mask_path}: {why}')
        return problems, None
    if mask.ndim != 2 or mask.dtype != np.uint8:
        problems.append(f'{mask_path}: mask is {mask.dtype} with shape {mask.shape}, '
                        'expected one 8-bit channel')
        return problems, None
    if image is not None and image.shape[:2] != mask.shape:
        problems.append(f'{mask_path}: mask size {mask.shape} differs from image '
                        f'{image_path} size {image.shape[:2]}')
    return problems, np.flatnonzero(np.bincount(mask.ravel())).tolist()


def check_tiles(pairs: Sequence[Tuple[str, str, str]], manifest: str,
                num_classes: Optional[int], ignore_index: int = 255, workers: int = 4) -> None:
    """Check ``(where, image_path, mask_path)`` triples; raise one
    :class:`TileCheckError` listing every bad tile (``where`` is the manifest
    line) with the fix. ``num_classes=None`` skips the label range check.

    Distributed: only rank 0 decodes; the others wait at a broadcast of its
    verdict (so every rank raises the same error, or none does).
    """
    rank, world_size = get_dist_info()
    if world_size == 1:
        _check_tiles(pairs, manifest, num_classes, ignore_index, workers)
        return
    verdict = [None]
    if rank == 0:
        try:
            _check_tiles(pairs, manifest, num_classes, ignore_index, workers)
        except Exception as err:  # the other ranks must hear of any failure, then re-raise
            verdict[0] = str(err) if isinstance(err, TileCheckError) else (
                f'rank 0 failed to check the tiles of {manifest}: {type(err).__name__}: {err}')
            broadcast_object_list(verdict, src=0)
            raise
    broadcast_object_list(verdict, src=0)
    if verdict[0] is not None:
        raise TileCheckError(verdict[0])


def _check_tiles(pairs: Sequence[Tuple[str, str, str]], manifest: str,
                 num_classes: Optional[int], ignore_index: int, workers: int) -> None:
    """:func:`check_tiles` in this process."""
    cache_path = osp.join(osp.dirname(osp.abspath(manifest)), CACHE_NAME)
    cache = _load_cache(cache_path)
    problems: List[str] = []
    todo = []
    for where, image_path, mask_path in pairs:
        stats = [*_stat(image_path), None], list(_stat(mask_path))
        entry = cache.get(mask_path)
        if entry and cache.get(image_path) == stats[0] and entry[:2] == stats[1]:
            problems += _label_problems(where, mask_path, entry[2], num_classes, ignore_index)
            continue
        todo.append((where, image_path, mask_path, stats))
    with ThreadPoolExecutor(workers) as pool:
        results = pool.map(lambda t: _check_pair(t[1], t[2], (t[3][0][0], t[3][1][0])), todo)
        for (where, image_path, mask_path, stats), (found, labels) in zip(todo, tqdm(
                results, total=len(todo), desc='checking tiles', unit='tile',
                disable=None if len(todo) > 500 else True)):
            problems += [f'{where}: {p}' for p in found]
            if labels is not None:
                problems += _label_problems(where, mask_path, labels, num_classes, ignore_index)
            if not found and labels is not None:
                cache[image_path], cache[mask_path] = stats[0], [*stats[1], labels]
    if todo:
        _save_cache(cache_path, cache)
    if problems:
        shown = '\n  '.join(problems[:20])
        more = f'\n  ... and {len(problems) - 20} more' if len(problems) > 20 else ''
        raise TileCheckError(f'{manifest}: {len(problems)} unusable tiles\n  {shown}{more}\n{FIX}')


def _label_problems(where: str, mask_path: str, labels: List[int], num_classes: Optional[int],
                    ignore_index: int) -> List[str]:
    beyond = [v for v in labels if num_classes is not None and v >= num_classes
              and v != ignore_index]
    if not beyond:
        return []
    return [f'{where}: {mask_path}: label {", ".join(map(str, beyond))} is beyond the '
            f'{num_classes} classes (0..{num_classes - 1}; {ignore_index} = ignore is the only '
            'other value allowed)']


def _load_cache(path: str) -> Dict[str, list]:
    try:
        with open(path) as f:
            data = json.load(f)
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _save_cache(path: str, cache: Dict[str, list]) -> None:
    with contextlib.suppress(OSError):  # a read-only dataset is checked every time
        with atomic_path(path) as tmp, open(tmp, 'w') as f:
            json.dump(cache, f)
