"""The window grid shared by tiling, inference, tests and benchmarks: which
level-0 windows a slide is cut into (:class:`WindowGrid`: tile, overlap and
scale or um/px -> window, stride, positions and reading level), and how a
window clipped at the slide border becomes a square model tile."""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Iterator, List, Tuple

import cv2
import numpy as np

__all__ = ['WindowGrid', 'check_positive', 'check_positive_int', 'window_positions', 'pad_square',
           'resize_square', 'to_tile']


def _invalid(name: str, value, rule: str) -> ValueError:
    return ValueError(f'invalid {name}={value!r}: {rule}')


def check_positive_int(name: str, value) -> int:
    """``value`` if it is an integer > 0; else ``ValueError`` naming it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise _invalid(name, value, 'must be an integer > 0')
    return int(value)


def check_positive(name: str, value) -> float:
    """``value`` as a float if it is a finite number > 0; else ``ValueError`` naming it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (
            0 < value < math.inf):
        raise _invalid(name, value, 'must be a number > 0')
    return float(value)


def window_positions(length: int, window: int, stride: int) -> List[int]:
    """Window starts covering ``[0, length)``; the last window ends at the border."""
    if length <= window:
        return [0]
    starts = list(range(0, length - window + 1, stride))
    if starts[-1] + window < length:
        starts.append(length - window)
    return starts


@dataclass(frozen=True)
class WindowGrid:
    """Square windows over a slide, validated when made.

    Args:
        tile: Model tile side in pixels (> 0).
        overlap: Fraction of a window shared with its neighbour, in ``[0, 1)``.
        scale: Tile pixels per level-0 pixel (> 0): the level-0 window side is
            ``round(tile / scale)``. :meth:`from_mpp` sets it from um/px.

    Raises:
        ValueError: one line naming the setting out of range.
    """

    tile: int = 512
    overlap: float = 0.5
    scale: float = 1.0

    def __post_init__(self) -> None:
        check_positive_int('tile', self.tile)
        if isinstance(self.overlap, bool) or not isinstance(self.overlap, numbers.Real) or \
                not 0 <= self.overlap < 1:
            raise _invalid('overlap', self.overlap, 'must be in [0, 1)')
        check_positive('scale', self.scale)

    @classmethod
    def from_mpp(cls, tile: int, overlap: float, slide_mpp: float,
                 target_mpp: float) -> 'WindowGrid':
        """Tiles at ``target_mpp`` um/px from a slide whose level 0 is
        ``slide_mpp`` um/px (``scale = slide_mpp / target_mpp``)."""
        scale = check_positive('slide um/px', slide_mpp) / check_positive('mpp', target_mpp)
        return cls(tile, overlap, scale)

    @property
    def window(self) -> int:
        """Window side in level-0 pixels."""
        return max(1, round(self.tile / self.scale))

    @property
    def stride(self) -> int:
        """Level-0 pixels between window starts."""
        return max(1, round(self.window * (1 - self.overlap)))

    @property
    def downsample(self) -> float:
        """Level-0 pixels per tile pixel (what the reading level must serve)."""
        return self.window / self.tile

    def positions(self, length: int) -> List[int]:
        """Window starts along a side of ``length`` level-0 pixels."""
        return window_positions(length, self.window, self.stride)

    def starts(self, shape: Tuple[int, int]) -> Tuple[List[int], List[int]]:
        """``(xs, ys)``: window starts of a ``(height, width)`` slide."""
        return self.positions(shape[1]), self.positions(shape[0])

    def windows(self, shape: Tuple[int, int]) -> Iterator[Tuple[int, int]]:
        """``(x, y)`` of every window of a ``(height, width)`` slide, row by row."""
        xs, ys = self.starts(shape)
        return ((x, y) for y in ys for x in xs)

    def count(self, shape: Tuple[int, int]) -> int:
        """How many windows a ``(height, width)`` slide has."""
        xs, ys = self.starts(shape)
        return len(xs) * len(ys)

    def level(self, reader) -> int:
        """The slide level to read windows from: the coarsest at least as fine
        as a tile pixel (``reader.level_for(window / tile)``)."""
        return reader.level_for(self.downsample)


def resize_square(array: np.ndarray, tile: int, interpolation: int) -> np.ndarray:
    """Resize to ``tile x tile`` (no copy when already that size)."""
    if array.shape[0] == tile and array.shape[1] == tile:
        return array
    return cv2.resize(array, (tile, tile), interpolation=interpolation)


def pad_square(array: np.ndarray, window: int, fill: int) -> np.ndarray:
    """Pad a window clipped at the image border back to ``window x window``
    (a side one pixel over, from rounding at a coarser level, is cropped)."""
    array = array[:window, :window]
    h, w = array.shape[:2]
    if h == window and w == window:
        return array
    pad = ((0, window - h), (0, window - w)) + ((0, 0),) * (array.ndim - 2)
    return np.pad(array, pad, constant_values=fill)


def to_tile(pixels: np.ndarray, window: int, tile: int, fill: int = 0,
            interpolation: int = cv2.INTER_AREA) -> np.ndarray:
    """A (possibly border-clipped) window of side ``window`` as a ``tile`` square."""
    return resize_square(pad_square(pixels, window, fill), tile, interpolation)
