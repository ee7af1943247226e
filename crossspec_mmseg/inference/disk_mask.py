"""A slide's label mask kept in a raw file and moved in row bands by explicit
reads and writes, never mapped whole: the process holds one band, however
large the slide (a memory map would keep every page it touched in the
process's resident memory, the whole mask by the end of a slide).

:func:`read_rows` and :func:`mask_tiles` read a :class:`DiskMask` or any
in-memory array alike, so the writers of :mod:`.exports` take either.
"""
from __future__ import annotations

import os
from typing import Iterator, Tuple, Union

import numpy as np

__all__ = ['DiskMask', 'mask_bands', 'mask_tiles', 'read_rows']

#: Mask pixels read at once by :func:`mask_bands`.
BAND_PIXELS = 8 * 2 ** 20


class DiskMask:
    """A uint8 ``(height, width)`` mask in the raw file ``path`` (created empty,
    all zeros, and removed by :meth:`close`)."""

    def __init__(self, path: str, shape: Tuple[int, int]) -> None:
        self.path, self.shape = path, (int(shape[0]), int(shape[1]))
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        os.ftruncate(self._fd, self.shape[0] * self.shape[1])  # sparse: unwritten rows are 0

    def write(self, first_row: int, rows: np.ndarray) -> None:
        """Store ``rows`` (uint8, full width) from ``first_row`` on."""
        data = memoryview(np.ascontiguousarray(rows, np.uint8).reshape(-1))
        offset = first_row * self.shape[1]
        while data:
            written = os.pwrite(self._fd, data, offset)
            data, offset = data[written:], offset + written

    def rows(self, start: int, stop: int, step: int = 1) -> np.ndarray:
        """Rows ``start:stop:step``, and every ``step``-th column of them."""
        start, stop, _ = slice(start, stop).indices(self.shape[0])
        width = self.shape[1]
        if step == 1:
            out = np.empty((max(0, stop - start), width), np.uint8)
            self._read_into(out, start * width)
            return out
        out = np.empty((len(range(start, stop, step)), -(-width // step)), np.uint8)
        row = np.empty(width, np.uint8)
        for i, y in enumerate(range(start, stop, step)):
            self._read_into(row, y * width)
            out[i] = row[::step]
        return out

    def _read_into(self, out: np.ndarray, offset: int) -> None:
        view = memoryview(out.reshape(-1))
        while view:
            got = os.preadv(self._fd, [view], offset)
            if not got:
                raise EOFError(f'{self.path}: ends before byte {offset}')
            view, offset = view[got:], offset + got

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
            os.remove(self.path)

    def __enter__(self) -> 'DiskMask':
        return self

    def __exit__(self, *exc) -> None:
        self.close()


Mask = Union[DiskMask, np.ndarray]


def read_rows(mask: Mask, start: int, stop: int, step: int = 1) -> np.ndarray:
    """Rows ``start:stop:step`` (every ``step``-th column) of a mask or an array."""
    if isinstance(mask, DiskMask):
        return mask.rows(start, stop, step)
    return np.asarray(mask[start:stop:step, ::step])


def mask_bands(mask: Mask) -> Iterator[Tuple[int, np.ndarray]]:
    """``(first row, rows)`` bands of about :data:`BAND_PIXELS` pixels."""
    rows = max(1, BAND_PIXELS // max(1, mask.shape[1]))
    for top in range(0, mask.shape[0], rows):
        yield top, read_rows(mask, top, top + rows)


def mask_tiles(mask: Mask, tile: int, step: int = 1) -> Iterator[np.ndarray]:
    """Row-major ``tile x tile`` tiles of the mask's every ``step``-th row and
    column (a pyramid level), zero-padded at the borders, a band at a time."""
    height = -(-mask.shape[0] // step)
    for y in range(0, height, tile):
        band = read_rows(mask, y * step, (y + tile) * step, step)
        for x in range(0, band.shape[1], tile):
            part = band[:, x:x + tile]
            yield np.pad(part, ((0, tile - part.shape[0]), (0, tile - part.shape[1])))
