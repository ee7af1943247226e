"""Kaggle HuBMAP run-length encoding: 1-indexed ``start length`` pairs over the
**column-major** flattened mask (pixel 2 is row 2, column 1).

Decoding can be limited to a window so that a whole-slide mask is never held
in memory (:func:`rle_decode_window`).
"""
from __future__ import annotations

from typing import Tuple

import numpy as np

from ..errors import BadInputError

__all__ = ['RLEError', 'parse_rle', 'rle_decode', 'rle_decode_window', 'rle_encode']


class RLEError(BadInputError):
    """A malformed run-length encoding."""


def parse_rle(encoding: str | float | None, shape: Tuple[int, int],
              record: str = 'RLE') -> Tuple[np.ndarray, np.ndarray]:
    """Validate and split an encoding into 0-indexed ``starts`` and ``ends``.

    Args:
        encoding: ``"start length start length ..."``; empty, ``None`` or NaN
            (how pandas reads an empty cell) mean an empty mask.
        shape: ``(height, width)`` of the image.
        record: Name used in error messages (e.g. ``train.csv id aaa6a05cc``).

    Raises:
        RLEError: odd token count, non-integers, non-positive starts or lengths,
            runs that overlap or are out of order, pixels beyond ``H*W``.
    """
    if encoding is None or (isinstance(encoding, float) and np.isnan(encoding)):
        encoding = ''
    tokens = str(encoding).split()
    if len(tokens) % 2:
        raise RLEError(f'{record}: odd number of tokens ({len(tokens)}); '
                       'expected "start length" pairs')
    try:
        values = np.array(tokens, dtype=np.int64).reshape(-1, 2)
    except ValueError as err:
        raise RLEError(f'{record}: non-integer token ({err})') from None
    starts, lengths = values[:, 0] - 1, values[:, 1]
    if (starts < 0).any() or (lengths <= 0).any():
        raise RLEError(f'{record}: starts must be >= 1 and lengths >= 1')
    ends = starts + lengths
    total = int(shape[0]) * int(shape[1])
    if len(ends) and ends.max() > total:
        raise RLEError(f'{record}: run reaches pixel {int(ends.max())} beyond '
                       f'H*W = {total} for shape {tuple(shape)}')
    if (starts[1:] < ends[:-1]).any():
        raise RLEError(f'{record}: runs overlap or are not sorted by start')
    return starts, ends


def rle_decode(encoding: str | float | None, shape: Tuple[int, int],
               record: str = 'RLE') -> np.ndarray:
    """Decode a whole mask (uint8, 1 inside runs). For small images only."""
    height, width = shape
    return rle_decode_window(parse_rle(encoding, shape, record), shape, 0, 0, width, height)


def rle_decode_window(runs: Tuple[np.ndarray, np.ndarray], shape: Tuple[int, int],
                      x: int, y: int, w: int, h: int) -> np.ndarray:
    """Decode the window ``[y:y+h, x:x+w]`` from parsed runs (see :func:`parse_rle`).

    Work is proportional to the runs in the window's columns plus ``w * h``;
    the whole mask is never materialised.
    """
    height = shape[0]
    starts, ends = runs
    lo, hi = x * height, (x + w) * height  # flat range of the window's columns
    first = np.searchsorted(ends, lo, side='right')
    last = np.searchsorted(starts, hi, side='left')
    s, e = np.maximum(starts[first:last], lo), np.minimum(ends[first:last], hi)
    # Split runs that wrap over column ends into one segment per column.
    col_start, col_end = s // height, (e - 1) // height
    counts = col_end - col_start + 1
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    cols = np.repeat(col_start, counts) + offsets
    row0 = np.maximum(np.repeat(s, counts) - cols * height, y) - y
    row1 = np.minimum(np.repeat(e, counts) - cols * height, y + h) - y
    keep = row1 > row0
    # +1 at each segment start, -1 at its end, cumulative sum down each column.
    delta = np.zeros((w, h + 1), np.int32)
    np.add.at(delta, (cols[keep] - x, row0[keep]), 1)
    np.add.at(delta, (cols[keep] - x, row1[keep]), -1)
    return np.ascontiguousarray(np.cumsum(delta[:, :h], axis=1).T.astype(np.uint8))


def rle_encode(mask: np.ndarray) -> str:
    """Encode a 2-D mask (nonzero = inside) in Kaggle's column-major RLE."""
    flat = np.asarray(mask).astype(bool).flatten(order='F')
    padded = np.concatenate([[False], flat, [False]])
    changes = np.flatnonzero(padded[1:] != padded[:-1]) + 1
    changes[1::2] -= changes[::2]
    return ' '.join(map(str, changes))
