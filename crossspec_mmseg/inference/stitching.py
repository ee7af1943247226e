"""Recombining overlapping tile predictions into a slide, one row band at a time.

Tiles sit on the grid of :func:`crossspec_mmseg.slides.window_positions`.
Blending rules for a pixel covered by several tiles:

* ``center``: the tile whose centre is nearest along each axis wins (the
  papers' rule: only tile centres are trusted; border context is discarded);
* ``mean``: plain average of the tiles' class probabilities (MMSeg's
  ``slide`` mode);
* ``gaussian``: average weighted by a Gaussian centred on each tile
  (sigma = window / 8, as MONAI's sliding-window inference).

Rows are finalised as soon as no later tile row can cover them, so only one
band of ``window`` rows x slide width is ever held.
"""
from __future__ import annotations

from typing import Iterator, List, Tuple

import numpy as np

__all__ = ['BLENDS', 'ownership_bounds', 'tile_weights', 'BandAccumulator']

BLENDS = ('center', 'gaussian', 'mean')


def ownership_bounds(starts: List[int], window: int, length: int) -> List[Tuple[int, int]]:
    """For ``center`` blending: the ``[lo, hi)`` range each tile owns on one axis.

    Boundaries are the midpoints between neighbouring tile centres, so the
    ranges partition ``[0, length)``.
    """
    centres = [s + window / 2 for s in starts]
    cuts = [0] + [int(np.floor((a + b) / 2)) for a, b in zip(centres, centres[1:])] + [length]
    return list(zip(cuts[:-1], cuts[1:]))


def tile_weights(window: int, blend: str) -> np.ndarray:
    """``(window, window)`` float32 weights of one tile for ``mean``/``gaussian``."""
    if blend == 'mean':
        return np.ones((window, window), np.float32)
    sigma = window / 8
    axis = np.exp(-0.5 * ((np.arange(window) - (window - 1) / 2) / sigma) ** 2)
    weights = np.outer(axis, axis).astype(np.float32)
    return np.maximum(weights, 1e-6)


class BandAccumulator:
    """Accumulates one row of tiles and yields finished row bands.

    Args:
        width, height: Slide size (pixels).
        window: Tile window side at full resolution.
        xs: Tile column starts; ys: tile row starts.
        blend: One of :data:`BLENDS`.
    """

    def __init__(self, width: int, height: int, window: int, xs: List[int], ys: List[int],
                 blend: str) -> None:
        if blend not in BLENDS:
            raise ValueError(f'blend must be one of {BLENDS}, got {blend!r}')
        self.width, self.height, self.window = width, height, window
        self.xs, self.ys, self.blend = xs, ys, blend
        self.x_own = ownership_bounds(xs, window, width)
        self.y_own = ownership_bounds(ys, window, height)
        self.weights = None if blend == 'center' else tile_weights(window, blend)
        self.top = 0                      # first row not yet emitted
        self.acc = None                   # (C, rows, width), once the first tile arrives
        self.norm = np.zeros((0, width), np.float32)

    def add_row(self, row: int, tiles: List[np.ndarray]) -> Iterator[Tuple[int, np.ndarray]]:
        """Add tile row ``row`` (one entry per x start, ``None`` for skipped
        background tiles) and yield ``(first_row, labels)`` bands that are now
        final. Tiles are uint8 labels ``(h, w)`` for ``center`` blending, else
        class probabilities ``(C, h, w)``."""
        y = self.ys[row]
        if self.blend == 'center':
            lo, hi = self.y_own[row]
            band = np.zeros((hi - lo, self.width), np.uint8)
            for (x_lo, x_hi), x, labels in zip(self.x_own, self.xs, tiles):
                if labels is not None:
                    band[:, x_lo:x_hi] = labels[lo - y:hi - y, x_lo - x:x_hi - x]
            yield lo, band
            return
        if self.acc is None:
            classes = next((t.shape[0] for t in tiles if t is not None), None)
            if classes is None:  # nothing predicted yet: these rows are background
                yield from self._emit_background(row)
                return
            self.acc = np.zeros((classes, self.norm.shape[0], self.width), np.float32)
        end = min(y + self.window, self.height)
        grow = end - (self.top + self.acc.shape[1])
        if grow > 0:  # extend the buffer down to this tile row's bottom
            self.acc = np.concatenate(
                [self.acc, np.zeros((self.acc.shape[0], grow, self.width), np.float32)], 1)
            self.norm = np.concatenate([self.norm, np.zeros((grow, self.width), np.float32)])
        for x, probs in zip(self.xs, tiles):
            if probs is None:
                continue
            h, w = probs.shape[1:]
            weight = self.weights[:h, :w]
            self.acc[:, y - self.top:y - self.top + h, x:x + w] += probs * weight
            self.norm[y - self.top:y - self.top + h, x:x + w] += weight
        yield from self._emit(self._final(row))

    def _final(self, row: int) -> int:
        """Rows above the next tile row's start are final after row ``row``."""
        return self.ys[row + 1] if row + 1 < len(self.ys) else self.height

    def _emit_background(self, row: int) -> Iterator[Tuple[int, np.ndarray]]:
        final = self._final(row)
        if final > self.top:
            yield self.top, np.zeros((final - self.top, self.width), np.uint8)
            self.top = final

    def _emit(self, final: int) -> Iterator[Tuple[int, np.ndarray]]:
        n = final - self.top
        if n <= 0:
            return
        labels = self.acc[:, :n].argmax(0).astype(np.uint8)
        labels[self.norm[:n] == 0] = 0  # covered only by skipped background tiles
        yield self.top, labels
        self.acc, self.norm = self.acc[:, n:], self.norm[n:]
        self.top = final
