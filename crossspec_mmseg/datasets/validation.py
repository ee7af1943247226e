"""Pixel-level checks of a manifest's tiles, done once when a dataset is built.

Every image must decode as 8-bit RGB(A) (OpenCV, as ``LoadImageFromFile``),
every mask as one 8-bit channel of the image's size (Pillow, as MMSeg's
``LoadAnnotations``: palette PNGs give their indices) with labels below
``num_classes`` or equal to ``ignore_index``. The check runs in threads with a
progress bar.

Cache: files checked before are remembered (path -> size, mtime, labels
present), so only new or changed files are decoded again. The cache is read
from two places, in this order, and a file counts as checked where either
holds its current size and mtime:

1. ``.tile_checks.json`` beside the manifest;
2. the fallback ``<cache_dir>/<sha1 of the manifest's absolute path>.json``,
   where ``cache_dir`` is the caller's (the dataset's ``tile_check_cache``),
   else ``<work_dir>/.tile_checks`` of the running mmengine ``Runner`` (found
   from the current ``MMLogger``'s log file,
   ``<work_dir>/<timestamp>/<timestamp>.log``, which the runner sets up before
   it builds any dataset; another log file gives its own folder), else
   ``$XDG_CACHE_HOME/crossspec_mmseg/tile_checks`` (``~/.cache/...``).

New results go beside the manifest; where that folder is not writable (a
read-only dataset), to the fallback, so a read-only dataset is not decoded
again on every run.

Storage: tiles behind an mmengine file backend (``backend_args`` naming one,
or a path prefix such as ``s3://``) are read with ``mmengine.fileio.get`` and
decoded from their bytes as the loading transforms do; they are not cached
(the cache keys on local size and mtime), so they are read again at every
build. A manifest behind such a backend has no cache files.

Distributed (``world_size > 1``): the tiles are split by index, rank ``r``
looking up and decoding ``pairs[r::world_size]`` only; the problems and new
cache entries of all ranks are then exchanged with
``mmengine.dist.all_gather_object`` (NCCL or gloo), so every rank raises the
same :class:`TileCheckError` or none does. Rank 0 writes the merged cache
while the others wait at a barrier, so the next check (another dataset on the
same manifest) finds it. A rank that fails otherwise (an ``OSError``, say)
still joins the exchange and its failure is listed on every rank, so no rank
is left waiting for it. The split does not depend on what a rank reads from
the cache, so ranks that see different cache files (a per-node ``~/.cache``,
a shared file system's delay) still check every tile exactly once. The ranks
wait only for the slowest share and for rank 0's write; the process group's
timeout is set in ``configs/_base_/default_runtime.py``.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import os.path as osp
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Optional, Sequence, Tuple, Union

import cv2
import mmcv
import numpy as np
from mmengine import fileio
from mmengine.dist import all_gather_object, barrier, get_dist_info
from mmengine.logging import MMLogger
from PIL import Image
from tqdm import tqdm

from ..utils.atomic import atomic_path
from ..utils.storage import is_local

__all__ = ['TileCheckError', 'check_tiles']

CACHE_NAME = '.tile_checks.json'
#: The fallback cache folder inside a runner's work dir.
WORK_DIR_CACHE = '.tile_checks'
FIX = ('fix: delete the listed files and re-run the converter (it resumes and rewrites them), '
       'or remove their rows from the manifest')


#: What the readers decode: a local path or the bytes of a file behind a backend.
Source = Union[str, bytes]


class TileCheckError(ValueError):
    """Tiles a manifest lists that cannot be trained on (names each file)."""


def _stat(path: str) -> Tuple[int, int]:
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns


def _decode(source: Source, size: int, reader) -> Tuple[Optional[np.ndarray], str]:
    if size == 0:
        return None, 'zero-byte file'
    try:
        image = reader(source)
    except (OSError, SyntaxError, ValueError):
        image = None
    return image, '' if image is not None else 'truncated or not an image'


def _read_image(source: Source) -> Optional[np.ndarray]:
    """A local path or a file's bytes, decoded as ``LoadImageFromFile`` does (OpenCV)."""
    if isinstance(source, bytes):
        return mmcv.imfrombytes(source, flag='unchanged', backend='cv2')
    return cv2.imread(source, cv2.IMREAD_UNCHANGED)


def _read_mask(source: Source) -> np.ndarray:
    """A local path or a file's bytes, decoded as ``LoadAnnotations`` does (Pillow)."""
    with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as im:
        return np.asarray(im)


def _check_pair(image_path: str, mask_path: str, sizes: Tuple[int, int],
                sources: Optional[Tuple[bytes, bytes]] = None
                ) -> Tuple[List[str], Optional[List[int]]]:
    """Problems of one tile and the labels in its mask (``None`` if unreadable);
    ``sizes``: the two files' byte sizes; ``sources``: their bytes, for files
    not on the local file system (default: read from the paths)."""
    image_source, mask_source = sources or (image_path, mask_path)
    problems = []
    image, why = _decode(image_source, sizes[0], _read_image)
    if image is None:
        problems.append(f'{image_path}: {why}')
    elif image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] not in (3, 4):
        problems.append(f'{image_path}: image is {image.dtype} with shape {image.shape}, '
                        'expected 8-bit RGB')
    mask, why = _decode(mask_source, sizes[1], _read_mask)
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


def _check_stored_pair(image_path: str, mask_path: str, backend_args: Optional[dict]
                       ) -> Tuple[List[str], Optional[List[int]]]:
    """:func:`_check_pair` of a tile behind a file backend: its bytes are read
    with ``mmengine.fileio.get``."""
    sources = tuple(fileio.get(path, backend_args=backend_args)
                    for path in (image_path, mask_path))
    return _check_pair(image_path, mask_path, (len(sources[0]), len(sources[1])), sources)


def check_tiles(pairs: Sequence[Tuple[str, str, str]], manifest: str,
                num_classes: Optional[int], ignore_index: int = 255, workers: int = 4,
                cache_dir: Optional[str] = None, backend_args: Optional[dict] = None) -> None:
    """Check ``(where, image_path, mask_path)`` triples; raise one
    :class:`TileCheckError` listing every bad tile (``where`` is the manifest
    line) with the fix. ``num_classes=None`` skips the label range check.
    ``cache_dir``: the fallback cache folder, used where the manifest's folder
    is not writable (default: see the module docstring). ``backend_args``:
    the mmengine file backend of the paths, as the dataset's (``None``: by
    their prefix, local without one); files behind one are not cached.

    Distributed: every rank checks its share of the tiles and all verdicts are
    gathered, so every rank raises the same error, or none does.
    """
    rank, world_size = get_dist_info()
    failure: Optional[Exception] = None
    cache_paths: Tuple[str, ...] = ()
    try:
        if is_local(manifest, backend_args):
            cache_paths = _cache_paths(manifest, cache_dir)
        problems, entries = _check_tiles(pairs, rank, world_size, cache_paths, num_classes,
                                         ignore_index, workers, backend_args)
    except Exception as err:  # the other ranks must hear of it, not wait for it
        if world_size == 1:
            raise
        failure = err
        problems = [(-1, f'rank {rank} failed to check the tiles of {manifest}: '
                         f'{type(err).__name__}: {err}')]
        entries = {}
    if world_size > 1:
        gathered = all_gather_object((problems, entries))
        problems = [p for found, _ in gathered for p in found]
        entries = {k: v for _, new in gathered for k, v in new.items()}
    if entries:  # the same on every rank
        if rank == 0 and cache_paths:
            try:
                _save_cache(*cache_paths, entries)
            except Exception as err:  # never keep the other ranks waiting at the barrier
                warnings.warn(f'cannot write the tile check cache: {type(err).__name__}: {err}')
        if world_size > 1:
            barrier()  # the next check (another dataset on this manifest) reads the new cache
    if problems:
        problems.sort(key=lambda p: p[0])  # manifest order (failed ranks first), on every rank
        texts = [text for _, text in problems]
        shown = '\n  '.join(texts[:20])
        more = f'\n  ... and {len(texts) - 20} more' if len(texts) > 20 else ''
        raise TileCheckError(f'{manifest}: {len(texts)} unusable tiles\n  {shown}{more}\n'
                             f'{FIX}') from failure


def _check_tiles(pairs: Sequence[Tuple[str, str, str]], rank: int, world_size: int,
                 cache_paths: Sequence[str], num_classes: Optional[int], ignore_index: int,
                 workers: int, backend_args: Optional[dict] = None
                 ) -> Tuple[List[Tuple[int, str]], Dict[str, list]]:
    """This process's share of :func:`check_tiles`, ``pairs[rank::world_size]``:
    its problems as ``(index in pairs, text)`` and its new cache entries."""
    caches = [_load_cache(path) for path in cache_paths]
    problems: List[Tuple[int, str]] = []
    todo = []
    for index in range(rank, len(pairs), world_size):
        where, image_path, mask_path = pairs[index]
        if not (is_local(image_path, backend_args) and is_local(mask_path, backend_args)):
            todo.append((index, where, image_path, mask_path, None))  # no stat, no cache
            continue
        stats = [*_stat(image_path), None], list(_stat(mask_path))
        labels = _cached_labels(caches, image_path, mask_path, stats)
        if labels is not None:
            problems += [(index, p) for p in _label_problems(where, mask_path, labels,
                                                              num_classes, ignore_index)]
        else:
            todo.append((index, where, image_path, mask_path, stats))
    entries: Dict[str, list] = {}
    with ThreadPoolExecutor(workers) as pool:
        results = pool.map(lambda t: _check_stored_pair(t[2], t[3], backend_args)
                           if t[4] is None else _check_pair(t[2], t[3], (t[4][0][0], t[4][1][0])),
                           todo)
        for (index, where, image_path, mask_path, stats), (found, labels) in zip(todo, tqdm(
                results, total=len(todo), desc='checking tiles', unit='tile',
                disable=None if len(todo) > 500 and rank == 0 else True)):
            problems += [(index, f'{where}: {p}') for p in found]
            if labels is not None:
                problems += [(index, p) for p in _label_problems(where, mask_path, labels,
                                                                  num_classes, ignore_index)]
            if stats is not None and not found and labels is not None:
                entries[image_path], entries[mask_path] = stats[0], [*stats[1], labels]
    return problems, entries


def _cached_labels(caches: Sequence[Dict[str, list]], image_path: str, mask_path: str,
                   stats: Tuple[list, list]) -> Optional[List[int]]:
    """The labels of a tile whose two files a cache holds with their current
    ``stats`` (size, mtime); ``None`` if no cache does."""
    for cache in caches:
        entry = cache.get(mask_path)
        if (cache.get(image_path) == stats[0] and isinstance(entry, list) and len(entry) == 3
                and entry[:2] == stats[1] and isinstance(entry[2], list)):
            return entry[2]
    return None


def _label_problems(where: str, mask_path: str, labels: List[int], num_classes: Optional[int],
                    ignore_index: int) -> List[str]:
    beyond = [v for v in labels if num_classes is not None and v >= num_classes
              and v != ignore_index]
    if not beyond:
        return []
    return [f'{where}: {mask_path}: label {", ".join(map(str, beyond))} is beyond the '
            f'{num_classes} classes (0..{num_classes - 1}; {ignore_index} = ignore is the only '
            'other value allowed)']


def _cache_paths(manifest: str, cache_dir: Optional[str]) -> Tuple[str, str]:
    """The cache file beside ``manifest`` and the fallback one (module docstring)."""
    manifest = osp.abspath(manifest)
    if cache_dir is None:
        work_dir = _runner_work_dir()
        cache_dir = osp.join(work_dir, WORK_DIR_CACHE) if work_dir else osp.join(
            os.environ.get('XDG_CACHE_HOME') or osp.join(osp.expanduser('~'), '.cache'),
            'crossspec_mmseg', 'tile_checks')
    digest = hashlib.sha1(manifest.encode(), usedforsecurity=False).hexdigest()
    return (osp.join(osp.dirname(manifest), CACHE_NAME),
            osp.join(osp.abspath(cache_dir), f'{digest}.json'))


def _runner_work_dir() -> Optional[str]:
    """The running mmengine ``Runner``'s work dir, from its logger's file
    ``<work_dir>/<timestamp>/<timestamp>.log`` (ranks other than 0 may add
    ``_<host>_device<d>_rank<r>`` to the name); the folder of any other log
    file; ``None`` without one."""
    try:
        log_file = MMLogger.get_current_instance().log_file
    except Exception:  # no usable logger: use the user's cache
        return None
    if not log_file:
        return None
    log_dir = osp.dirname(osp.abspath(log_file))
    if osp.basename(log_file).startswith(osp.basename(log_dir)):
        return osp.dirname(log_dir)
    return log_dir


def _load_cache(path: str) -> Dict[str, list]:
    try:
        with open(path) as f:
            data = json.load(f)
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _save_cache(beside: str, fallback: str, entries: Dict[str, list]) -> None:
    """Add ``entries`` to the cache beside the manifest or, where that folder
    is not writable, to the fallback one."""
    for path in (beside, fallback):
        cache = _load_cache(path)
        cache.update(entries)
        with contextlib.suppress(OSError):
            with atomic_path(path) as tmp, open(tmp, 'w') as f:
                json.dump(cache, f)
            return
    warnings.warn(f'cannot write the tile check cache to {beside} or {fallback}: these '
                  'tiles will be decoded again by the next run', stacklevel=3)
