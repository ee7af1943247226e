"""Reading source rasters and rasterising polygons into label windows."""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np
from skimage.draw import polygon2mask

from ..slides.reader import LevelReader
from ..slides.source import SlideLevel
from .errors import BadInputError

__all__ = ['ImageReadError', 'read_rgb_image', 'read_label_image', 'ArrayReader', 'PolygonSet']


class ImageReadError(BadInputError):
    """An image file that cannot be decoded (names the file)."""


def _imread(path: str, flags: int) -> np.ndarray:
    data = np.fromfile(path, np.uint8) if path else None
    image = cv2.imdecode(data, flags) if data is not None and data.size else None
    if image is None:
        raise ImageReadError(f'{path}: unreadable, empty or truncated image; '
                             're-extract it from the download')
    return image


def read_rgb_image(path: str) -> np.ndarray:
    """uint8 RGB ``(H, W, 3)``; drops alpha, expands greyscale, rejects 16-bit."""
    image = _imread(path, cv2.IMREAD_UNCHANGED)
    if image.dtype != np.uint8:
        raise ImageReadError(f'{path}: expected an 8-bit image, got {image.dtype}')
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def read_label_image(path: str) -> np.ndarray:
    """A single-channel label/instance image as stored (uint8 or uint16)."""
    image = _imread(path, cv2.IMREAD_UNCHANGED)
    if image.ndim == 3:
        raise ImageReadError(f'{path}: expected a single-channel mask, got shape {image.shape}')
    return image


class ArrayReader(LevelReader):
    """The slide interface (:class:`~crossspec_mmseg.slides.SlideSource`) over
    an RGB image already in memory: one level, um/px ``mpp`` (None: unknown)."""

    def __init__(self, image: np.ndarray, path: str = '<image in memory>',
                 mpp: Optional[float] = None) -> None:
        self.image, self.path, self._base_mpp = image, path, mpp
        self.height, self.width = image.shape[:2]
        self.levels = [SlideLevel(self.height, self.width, 1.0, 1.0)]

    def _read_level(self, level: int, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
        return self.image[y0:y1, x0:x1]

    def close(self) -> None:
        self.image = None


class PolygonSet:
    """Polygons in full-resolution pixel coordinates, rasterised window by window.

    Each polygon is a list of rings (exterior first, then holes) of ``[x, y]``
    points. A pixel is inside when its centre is (scikit-image's
    point-in-polygon rule), which does not depend on where a window starts,
    so any window equals the same crop of the whole image rasterised at once.
    Work per window is bounded by the window size, whatever the slide size.
    """

    def __init__(self, polygons: Sequence[Sequence[np.ndarray]] = ()) -> None:
        self.polygons: List[List[np.ndarray]] = [
            [np.asarray(ring, np.float64).reshape(-1, 2) for ring in poly] for poly in polygons]
        self.boxes = np.array([self._box(p) for p in self.polygons], np.float64).reshape(-1, 4)

    @staticmethod
    def _box(rings: List[np.ndarray]) -> Tuple[float, float, float, float]:
        points = np.concatenate(rings)
        return (*points.min(0), *points.max(0))

    def __len__(self) -> int:
        return len(self.polygons)

    def fill(self, out: np.ndarray, x: int, y: int, value: int) -> np.ndarray:
        """Set ``value`` inside the polygons in window ``(x, y, out.shape)`` of ``out``."""
        h, w = out.shape
        if not self.polygons:
            return out
        b = self.boxes
        hits = np.flatnonzero((b[:, 2] >= x) & (b[:, 0] <= x + w - 1)
                              & (b[:, 3] >= y) & (b[:, 1] <= y + h - 1))
        for i in hits:
            exterior, *holes = self.polygons[i]
            inside = polygon2mask((h, w), exterior[:, ::-1] - (y, x))
            for hole in holes:
                inside &= ~polygon2mask((h, w), hole[:, ::-1] - (y, x))
            out[inside] = value
        return out

    def mask(self, x: int, y: int, w: int, h: int, value: int = 1,
             background: int = 0) -> np.ndarray:
        """A fresh uint8 window with ``value`` inside the polygons."""
        return self.fill(np.full((h, w), background, np.uint8), x, y, value)
