"""Window-by-window reading of whole-slide TIFFs, whatever their layout.

Real downloads come as ``(H, W, 3)``, ``(3, H, W)``, ``(1, 1, 3, H, W)`` or
with the three channels in separate pages/series. :class:`SlideReader` opens
level 0 through tifffile's zarr store, so a window read decodes only the
TIFF tiles/strips it touches and memory stays bounded whatever the slide
size.
"""
from __future__ import annotations

from typing import List, Tuple

import numpy as np
import tifffile
import zarr

from .errors import BadInputError

__all__ = ['SlideReadError', 'SlideReader']


class SlideReadError(BadInputError):
    """The file is not a slide this reader understands (names the file)."""


def _level0(store) -> zarr.Array:
    node = zarr.open(store, mode='r')
    return node if isinstance(node, zarr.Array) else node['0']


class SlideReader:
    """RGB windows of a TIFF slide's full-resolution level.

    Args:
        path: TIFF file.

    Attributes:
        height, width: Full-resolution size in pixels.

    Raises:
        SlideReadError: unreadable/truncated file, or no RGB interpretation.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        try:
            self._tif = tifffile.TiffFile(path)
            series = self._tif.series
            if not series:
                raise SlideReadError(f'{path}: no image series in TIFF')
            self._arrays, self._axes = self._open_channels(series)
        except SlideReadError:
            self.close()
            raise
        except Exception as err:  # tifffile raises many types on corrupt files
            self.close()
            raise SlideReadError(f'{path}: cannot read TIFF ({type(err).__name__}: {err})') from err
        shape = self._arrays[0].shape
        self.height = shape[self._axes.index('Y')]
        self.width = shape[self._axes.index('X')]

    def _open_channels(self, series) -> Tuple[List[zarr.Array], str]:
        first = series[0]
        axes = first.axes
        if 'Y' not in axes or 'X' not in axes:
            raise SlideReadError(f'{self.path}: series 0 has axes {axes!r}, no Y/X plane')
        other = int(np.prod([n for n, a in zip(first.shape, axes) if a not in 'YX']))
        if other >= 3:
            return [_level0(first.aszarr(level=0))], axes
        # Channels stored as separate single-channel series (pages).
        planes = [s for s in series if s.shape == first.shape]
        if other == 1 and len(planes) >= 3:
            return [_level0(s.aszarr(level=0)) for s in planes[:3]], axes
        if other == 1:  # greyscale: replicate
            return [_level0(first.aszarr(level=0))] * 3, axes
        raise SlideReadError(f'{self.path}: shape {first.shape} (axes {axes!r}) is not RGB')

    @property
    def shape(self) -> Tuple[int, int]:
        return self.height, self.width

    def read(self, x: int, y: int, w: int, h: int) -> np.ndarray:
        """The window ``[y:y+h, x:x+w]`` as uint8 RGB ``(h', w', 3)``, clipped
        to the slide (``h' <= h``, ``w' <= w`` at the border)."""
        x0, y0 = max(0, x), max(0, y)
        x1, y1 = min(self.width, x + w), min(self.height, y + h)
        index = tuple(slice(y0, y1) if a == 'Y' else slice(x0, x1) if a == 'X' else slice(None)
                      for a in self._axes)
        planes = []
        for array in self._arrays:
            try:
                window = np.asarray(array[index])
            except Exception as err:  # truncated/corrupt tiles surface only here
                raise SlideReadError(f'{self.path}: cannot read TIFF window x={x}, y={y} '
                                     f'({type(err).__name__}: {err})') from err
            kept = [a for a in self._axes]
            # Move Y, X first; the rest become channels.
            window = np.moveaxis(window, [kept.index('Y'), kept.index('X')], [0, 1])
            planes.append(window.reshape(y1 - y0, x1 - x0, -1))
        rgb = np.concatenate(planes, axis=2)[..., :3] if len(planes) > 1 else planes[0][..., :3]
        if rgb.dtype != np.uint8:
            rgb = _to_uint8(rgb)
        return np.ascontiguousarray(rgb)

    def close(self) -> None:
        tif = getattr(self, '_tif', None)
        if tif is not None:
            tif.close()

    def __enter__(self) -> 'SlideReader':
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _to_uint8(array: np.ndarray) -> np.ndarray:
    if array.dtype == np.uint16:
        return (array >> 8).astype(np.uint8)
    if np.issubdtype(array.dtype, np.floating):
        return np.clip(array * (255.0 if array.max() <= 1 else 1.0), 0, 255).astype(np.uint8)
    return np.clip(array, 0, 255).astype(np.uint8)
