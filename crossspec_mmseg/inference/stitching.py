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
band of ``window`` rows x slide width is ever held. ``mean``/``gaussian``
blend on the device the probabilities come from (the model's GPU): the
weighted sums stay there and only the finished band's uint8 labels are
copied to the host.
"""
from __future__ import annotations

from typing import Iterator, List, Optional, Tuple

import numpy as np
import torch

__all__ = ['BLENDS', 'MAX_CLASSES', 'BandAccumulator', 'channel_argmax', 'ownership_bounds',
           'tile_weights']

BLENDS = ('center', 'gaussian', 'mean')
MAX_CLASSES = 256  #: labels 0..255 fit the uint8 mask


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
    """Accumulates tile rows and yields finished row bands of uint8 labels.

    Tiles are given one at a time (:meth:`add`) and a tile row is closed by
    :meth:`finish_row`: uint8 labels ``(h, w)`` (NumPy) for ``center``
    blending; class probabilities ``(C, h, w)`` (torch, on any device) for
    ``mean``/``gaussian``, which are weighted and summed on their device.

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
        self.top = 0                                  # first row not yet emitted
        self.band: Optional[np.ndarray] = None        # center: the row band being filled
        self.acc: Optional[torch.Tensor] = None       # blends: (C, rows, width) weighted sums
        self.norm: Optional[torch.Tensor] = None      # blends: (rows, width) summed weights
        self.weights: Optional[torch.Tensor] = None   # blends: one tile's weights, on the device

    def add_row(self, row: int, tiles: List) -> Iterator[Tuple[int, np.ndarray]]:
        """Add tile row ``row`` (one entry per x start, ``None`` for skipped
        background tiles) and yield the ``(first_row, labels)`` bands now final."""
        for i, tile in enumerate(tiles):
            if tile is not None:
                self.add(row, i, tile)
        yield from self.finish_row(row)

    def add(self, row: int, col: int, tile) -> None:
        """Add the tile at tile row ``row``, column index ``col``."""
        y, x = self.ys[row], self.xs[col]
        if self.blend == 'center':
            lo, hi = self.y_own[row]
            if self.band is None:
                self.band = np.zeros((hi - lo, self.width), np.uint8)
            x_lo, x_hi = self.x_own[col]
            self.band[:, x_lo:x_hi] = tile[lo - y:hi - y, x_lo - x:x_hi - x]
            return
        self._grow(tile, min(y + self.window, self.height))
        h, w = tile.shape[1:]
        weight = self.weights[:h, :w]
        rows = slice(y - self.top, y - self.top + h)
        self.acc[:, rows, x:x + w].addcmul_(tile, weight)
        self.norm[rows, x:x + w] += weight

    def finish_row(self, row: int) -> Iterator[Tuple[int, np.ndarray]]:
        """Close tile row ``row``: yield the ``(first_row, labels)`` bands now final."""
        if self.blend == 'center':
            lo, hi = self.y_own[row]
            band = self.band if self.band is not None else np.zeros((hi - lo, self.width),
                                                                     np.uint8)
            self.band = None
            yield lo, band
            return
        final = self.ys[row + 1] if row + 1 < len(self.ys) else self.height
        n = final - self.top
        if n <= 0:
            return
        if self.acc is None:  # nothing predicted yet: these rows are background
            labels = np.zeros((n, self.width), np.uint8)
        else:
            scores = self.acc[:, :n]
            kept = min(n, scores.shape[1])
            labels_t = channel_argmax(scores[None, :, :kept])[0]
            labels_t.masked_fill_(self.norm[:kept] == 0, 0)  # only skipped tiles covered these
            labels = np.zeros((n, self.width), np.uint8)
            labels[:kept] = labels_t.cpu().numpy()  # the one device -> host copy of the band
            self.acc, self.norm = self.acc[:, kept:], self.norm[kept:]
        yield self.top, labels
        self.top = final

    def _grow(self, tile: torch.Tensor, end: int) -> None:
        """Make the sums reach row ``end`` (allocated on the tile's device)."""
        if self.acc is None:
            self.acc = tile.new_zeros((tile.shape[0], 0, self.width), dtype=torch.float32)
            self.norm = tile.new_zeros((0, self.width), dtype=torch.float32)
            self.weights = torch.from_numpy(tile_weights(self.window, self.blend)).to(
                tile.device)
        grow = end - (self.top + self.acc.shape[1])
        if grow > 0:
            self.acc = torch.cat([self.acc, self.acc.new_zeros(
                (self.acc.shape[0], grow, self.width))], 1)
            self.norm = torch.cat([self.norm, self.norm.new_zeros((grow, self.width))])


def channel_argmax(scores: torch.Tensor) -> torch.Tensor:
    """``scores.argmax(1)`` as uint8 on the scores' device, by a running maximum
    over the channels (torch's argmax over a non-last dimension is slow on CPU);
    ties go to the lower class, as argmax."""
    if scores.shape[1] > MAX_CLASSES:
        raise ValueError(f'{scores.shape[1]} classes do not fit a uint8 mask')
    best = scores[:, 0]
    labels = torch.zeros(best.shape, dtype=torch.uint8, device=scores.device)
    for c in range(1, scores.shape[1]):
        better = scores[:, c] > best
        labels.masked_fill_(better, c)
        best = torch.where(better, scores[:, c], best)
    return labels
