"""The background test: how much of a window is stained tissue, per window
(:func:`tissue_fraction`) or looked up in a map computed once per slide from a
low level (:class:`TissueMap`)."""
from __future__ import annotations

import cv2
import numpy as np

__all__ = ['MAP_PIXELS', 'TissueMap', 'tissue_fraction']

#: Tissue map pixels along a window's side (sets the map's resolution).
MAP_PIXELS = 16
#: Level pixels read at once while the map is made.
BAND_PIXELS = 2 ** 24


def tissue_pixels(rgb: np.ndarray, saturation_threshold: int = 40) -> np.ndarray:
    """Boolean: HSV saturation above the threshold (tissue, not glass)."""
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)[..., 1] > saturation_threshold


def tissue_fraction(rgb: np.ndarray, saturation_threshold: int = 40) -> float:
    """Fraction of pixels whose HSV saturation exceeds the threshold (the
    Kaggle HuBMAP background test)."""
    return float(tissue_pixels(rgb, saturation_threshold).mean())


class TissueMap:
    """Where a slide has tissue, computed once from a low level; the fraction of
    a window that is tissue is then looked up, reading no pixels.

    The map is read from the coarsest level at least as fine as
    ``window / pixels`` (``pixels`` map pixels along a window's side), in row
    bands, and its tissue pixels are counted in blocks to that resolution.

    Args:
        reader: A :class:`~.reader.LevelReader`.
        window: Window side in level-0 pixels.
        saturation_threshold: As :func:`tissue_fraction`.
        pixels: Map pixels along a window's side (at least; fewer only when
            the slide's finest level is too coarse).
    """

    def __init__(self, reader, window: int, saturation_threshold: int = 40,
                 pixels: int = MAP_PIXELS) -> None:
        self.level = reader.level_for(max(1.0, window / pixels))
        info = reader.levels[self.level]
        self.block = max(1, int(window / pixels / info.downsample))  # level px per map px
        self.downsample = (info.downsample_y * self.block, info.downsample_x * self.block)
        self.shape = reader.shape
        rows = self.block * max(1, BAND_PIXELS // (info.width * self.block))
        counts = [self._block_sums(tissue_pixels(reader.level_rows(self.level, y, y + rows),
                                                 saturation_threshold))
                  for y in range(0, info.height, rows)]
        tissue = np.concatenate([c[0] for c in counts])
        area = np.concatenate([c[1] for c in counts])
        self._tissue, self._area = _integral(tissue), _integral(area)

    def _block_sums(self, mask: np.ndarray):
        """Tissue and pixel counts of ``block x block`` blocks (partial at the edges)."""
        starts_y = np.arange(0, mask.shape[0], self.block)
        starts_x = np.arange(0, mask.shape[1], self.block)
        tissue = np.add.reduceat(np.add.reduceat(mask.astype(np.int64), starts_y, 0), starts_x, 1)
        heights = np.diff(np.append(starts_y, mask.shape[0]))
        widths = np.diff(np.append(starts_x, mask.shape[1]))
        return tissue, np.outer(heights, widths)

    def fraction(self, x: int, y: int, w: int, h: int) -> float:
        """Tissue fraction of the level-0 window ``[y:y+h, x:x+w]`` (clipped to
        the slide), from the map blocks nearest its edges."""
        y0, y1 = self._cells(y, h, 0)
        x0, x1 = self._cells(x, w, 1)
        area = _box(self._area, x0, y0, x1, y1)
        return _box(self._tissue, x0, y0, x1, y1) / area if area else 0.0

    @property
    def slide_fraction(self) -> float:
        """The tissue share of the whole slide (all its map pixels)."""
        area = float(self._area[-1, -1])
        return float(self._tissue[-1, -1]) / area if area else 0.0

    def _cells(self, start: int, size: int, axis: int):
        """Map cells ``[a, b)`` nearest the level-0 span (clipped), at least one."""
        cells, step = self._area.shape[axis] - 1, self.downsample[axis]
        lo, hi = max(0, start), min(self.shape[axis], start + size)
        a = min(cells - 1, max(0, round(lo / step)))
        return a, min(cells, max(a + 1, round(hi / step)))


def _integral(counts: np.ndarray) -> np.ndarray:
    out = np.zeros((counts.shape[0] + 1, counts.shape[1] + 1), np.int64)
    out[1:, 1:] = counts.cumsum(0).cumsum(1)
    return out


def _box(integral: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> int:
    return int(integral[y1, x1] - integral[y0, x1] - integral[y1, x0] + integral[y0, x0])
