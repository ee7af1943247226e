"""Window-by-window reading of whole-slide TIFFs at any level, whatever their layout.

Levels come from the file: SVS and OME-TIFF pyramids (SubIFDs), generic
pyramidal TIFFs (reduced-resolution pages) and OME files with one series per
level. Level-0 pixels may be ``(H, W, 3)``, ``(3, H, W)``, ``(1, 1, 3, H, W)``
or three single-channel pages. Every level is opened through tifffile's zarr
store, so a window read decodes only the TIFF tiles/strips it touches, and a
window wanted at a coarser resolution is read from the coarsest level that
is still at least as fine (level 0 is not decoded when a coarser level
serves). The level-0 um/px comes from the file's metadata
(:mod:`.resolution`) or from ``base_mpp``.
"""
from __future__ import annotations

from typing import List, Optional, Tuple

import cv2
import numpy as np
import tifffile
import zarr

from .resolution import SlideResolutionError, check_mpp, metadata_mpp
from .source import NotThisFormat, SlideFormat, SlideLevel, SlideReadError

__all__ = ['LevelReader', 'SlideLevel', 'SlideReadError', 'SlideReader', 'TIFF']

#: Relative slack when matching a wanted downsample to a level's (2.0003 serves 2).
DOWNSAMPLE_TOLERANCE = 0.01


def _zarr_level(series, level: int = 0) -> zarr.Array:
    node = zarr.open(series.aszarr(level=level), mode='r')
    return node if isinstance(node, zarr.Array) else node[str(level)]


class LevelReader:
    """What every slide reader shares: levels, um/px, level choice and resized
    reads (a :class:`~.source.SlideSource`). Subclasses set ``path``,
    ``height``, ``width``, ``levels`` and the metadata um/px, and implement
    :meth:`_read_level`."""

    path: str
    height: int
    width: int
    levels: List[SlideLevel]
    _base_mpp: Optional[float] = None
    _metadata_mpp: Tuple[Optional[float], str] = (None, 'its metadata')

    @property
    def shape(self) -> Tuple[int, int]:
        return self.height, self.width

    @property
    def mpp(self) -> Optional[float]:
        """Level-0 um/px (``base_mpp`` if given, else the metadata's), or None if unknown."""
        try:
            return self.require_mpp()
        except SlideResolutionError:
            return None

    def require_mpp(self) -> float:
        """Level-0 um/px; :class:`~.resolution.SlideResolutionError` (asking for
        ``--base-mpp``) when the metadata lacks it or it is implausible."""
        if self._base_mpp is not None:
            return check_mpp(self.path, self._base_mpp, '--base-mpp')
        return check_mpp(self.path, *self._metadata_mpp)

    def downsample_for(self, target_mpp: float) -> float:
        """Level-0 pixels per output pixel for reading at ``target_mpp`` um/px."""
        return target_mpp / self.require_mpp()

    def level_for(self, downsample: float) -> int:
        """The coarsest level at least as fine as ``downsample`` (level-0 px per px)."""
        fine_enough = [i for i, level in enumerate(self.levels)
                       if level.downsample <= downsample * (1 + DOWNSAMPLE_TOLERANCE)]
        return max(fine_enough, key=lambda i: self.levels[i].downsample, default=0)

    def level_side(self, side: int, level: int) -> int:
        """A level-0 length of ``side`` pixels measured at ``level``."""
        return max(1, round(side / self.levels[level].downsample))

    def read(self, x: int, y: int, w: int, h: int, level: int = 0) -> np.ndarray:
        """The level-0 window ``[y:y+h, x:x+w]``, clipped to the slide, as uint8
        RGB at ``level``: ``(h', w', 3)`` with ``h' ~ h / downsample`` (less at
        the border)."""
        info = self.levels[level]
        x0, y0 = int(max(0, x) / info.downsample_x), int(max(0, y) / info.downsample_y)
        x1 = min(info.width, x0 + round((min(self.width, x + w) - max(0, x)) / info.downsample_x))
        y1 = min(info.height,
                 y0 + round((min(self.height, y + h) - max(0, y)) / info.downsample_y))
        return self._read_level(level, x0, y0, x1, y1)

    def level_rows(self, level: int, y0: int, y1: int) -> np.ndarray:
        """uint8 RGB rows ``[y0:y1]`` of ``level`` (level coordinates), whole width."""
        info = self.levels[level]
        return self._read_level(level, 0, y0, info.width, min(y1, info.height))

    def _read_level(self, level: int, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
        """uint8 RGB ``[y0:y1, x0:x1]`` of ``level`` (level coordinates)."""
        raise NotImplementedError

    def read_resized(self, x: int, y: int, w: int, h: int, downsample: float) -> np.ndarray:
        """The level-0 window, clipped to the slide, at ``downsample`` level-0
        pixels per pixel: read from :meth:`level_for` and area-resized the rest."""
        level = self.level_for(downsample)
        pixels = self.read(x, y, w, h, level)
        out_w = max(1, round((min(self.width, x + w) - max(0, x)) / downsample))
        out_h = max(1, round((min(self.height, y + h) - max(0, y)) / downsample))
        if pixels.shape[:2] == (out_h, out_w):
            return pixels
        return cv2.resize(pixels, (out_w, out_h), interpolation=cv2.INTER_AREA)

    def close(self) -> None:
        """Release the file."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class SlideReader(LevelReader):
    """RGB windows of a TIFF slide at any of its levels (through tifffile).

    Args:
        path: TIFF file (SVS, OME-TIFF, NDPI, generic tiled/pyramidal TIFF).
        base_mpp: Level-0 um/px, overriding the metadata (``--base-mpp``).
        tif: ``path`` already opened by tifffile (the reader closes it).

    Attributes:
        height, width: Level-0 size in pixels.
        levels: :class:`SlideLevel` of each level, finest first.

    Raises:
        SlideReadError: unreadable/truncated file, or no RGB interpretation.
    """

    def __init__(self, path: str, base_mpp: Optional[float] = None,
                 tif: Optional[tifffile.TiffFile] = None) -> None:
        self.path = path
        try:
            self._tif = tif if tif is not None else tifffile.TiffFile(path)
            series = self._tif.series
            if not series:
                raise SlideReadError(f'{path}: no image series in TIFF')
            self._planes, self._axes = self._open_levels(series)
            self._metadata_mpp = metadata_mpp(self._tif)
        except SlideReadError:
            self.close()
            raise
        except Exception as err:  # tifffile raises many types on corrupt files
            self.close()
            raise SlideReadError(f'{path}: cannot read TIFF ({type(err).__name__}: {err})') from err
        self._base_mpp = base_mpp
        self.height, self.width = self._size(self._planes[0][0])
        self.levels = [SlideLevel(h, w, self.width / w, self.height / h)
                       for h, w in (self._size(planes[0]) for planes in self._planes)]

    def _size(self, array: zarr.Array) -> Tuple[int, int]:
        return array.shape[self._axes.index('Y')], array.shape[self._axes.index('X')]

    def _open_levels(self, series) -> Tuple[List[List[zarr.Array]], str]:
        """Per level, the arrays whose channels make RGB (one, or three planes)."""
        first = series[0]
        axes = first.axes
        if 'Y' not in axes or 'X' not in axes:
            raise SlideReadError(f'{self.path}: series 0 has axes {axes!r}, no Y/X plane')
        other = int(np.prod([n for n, a in zip(first.shape, axes) if a not in 'YX']))
        planes = [s for s in series if s.shape == first.shape]
        if other == 1 and len(planes) >= 3:  # channels as separate single-channel pages
            return [[_zarr_level(s) for s in planes[:3]]], axes
        pyramid = [_zarr_level(first, i) for i in range(len(first.levels))]
        if len(pyramid) == 1:  # OME with one series per level
            pyramid += [_zarr_level(s) for s in _level_series(first, series[1:])]
        if other >= 3:
            return [[array] for array in pyramid], axes
        if other == 1:  # greyscale (e.g. a label mask): replicated
            return [[array] * 3 for array in pyramid], axes
        raise SlideReadError(f'{self.path}: shape {first.shape} (axes {axes!r}) is not RGB')

    def _read_level(self, level: int, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
        index = tuple(slice(y0, y1) if a == 'Y' else slice(x0, x1) if a == 'X' else slice(None)
                      for a in self._axes)
        planes = []
        for array in self._planes[level]:
            try:
                window = np.asarray(array[index])
            except Exception as err:  # truncated/corrupt tiles surface only here
                raise SlideReadError(f'{self.path}: cannot read TIFF window x={x0}, y={y0} '
                                     f'of level {level} '
                                     f'({type(err).__name__}: {err})') from err
            # Move Y, X first; the rest become channels.
            window = np.moveaxis(window, [self._axes.index('Y'), self._axes.index('X')], [0, 1])
            planes.append(window.reshape(y1 - y0, x1 - x0, -1))
        rgb = np.concatenate(planes, axis=2)[..., :3] if len(planes) > 1 else planes[0][..., :3]
        if rgb.dtype != np.uint8:
            rgb = _to_uint8(rgb)
        return np.ascontiguousarray(rgb)

    def close(self) -> None:
        tif = getattr(self, '_tif', None)
        if tif is not None:
            tif.close()


def _open_tiff(path: str, base_mpp: Optional[float] = None) -> SlideReader:
    """A :class:`SlideReader`, or :class:`~.source.NotThisFormat` when tifffile
    cannot parse the file (it is opened once, by this attempt)."""
    try:
        tif = tifffile.TiffFile(path)
    except Exception as err:  # not a TIFF, or not one tifffile parses
        raise NotThisFormat(f'{path}: cannot read TIFF ({type(err).__name__}: {err})') from err
    return SlideReader(path, base_mpp, tif)


#: SVS, NDPI, OME-TIFF and generic TIFFs, through tifffile.
TIFF = SlideFormat('TIFF', _open_tiff)


def _level_series(first, others) -> list:
    """Series that are reduced copies of ``first`` (same axes and aspect; label and
    macro photos differ in aspect), finest first."""
    height, width = first.shape[first.axes.index('Y')], first.shape[first.axes.index('X')]
    levels = []
    for series in others:
        if series.axes != first.axes:
            continue
        h, w = series.shape[series.axes.index('Y')], series.shape[series.axes.index('X')]
        if w < width and abs(width / w - height / h) <= DOWNSAMPLE_TOLERANCE * width / w + 1 / h:
            levels.append(series)
    return sorted(levels, key=lambda s: -s.shape[s.axes.index('X')])


def _to_uint8(array: np.ndarray) -> np.ndarray:
    if array.dtype == np.uint16:
        return (array >> 8).astype(np.uint8)
    if np.issubdtype(array.dtype, np.floating):
        return np.clip(array * (255.0 if array.max() <= 1 else 1.0), 0, 255).astype(np.uint8)
    return np.clip(array, 0, 255).astype(np.uint8)
