"""The window grid shared by tiling and inference: where windows start, and
how a window clipped at the slide border becomes a square model tile."""
from typing import List

import cv2
import numpy as np

__all__ = ['window_positions', 'pad_square', 'resize_square', 'to_tile']


def window_positions(length: int, window: int, stride: int) -> List[int]:
    """Window starts covering ``[0, length)``; the last window ends at the border."""
    if length <= window:
        return [0]
    starts = list(range(0, length - window + 1, stride))
    if starts[-1] + window < length:
        starts.append(length - window)
    return starts


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
