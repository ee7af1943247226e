"""Optional OpenSlide backend, for formats tifffile cannot read (MRXS, SCN,
VMS, ...): ``pip install crossspec_mmseg[openslide]``. :data:`OPENSLIDE` is its
entry in :func:`~.formats.open_slide`'s list, tried after TIFF."""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..utils.deprecation import moved_name
from .reader import LevelReader
from .source import SlideFormat, SlideLevel, SlideReadError

__all__ = ['OPENSLIDE', 'OpenSlideReader']


class OpenSlideReader(LevelReader):
    """RGB windows of any slide OpenSlide reads, at any of its levels. Where the
    slide has no data (MRXS gaps, missing tiles: OpenSlide's transparent
    pixels), the window is its background colour (``openslide.background-color``,
    else white), not black.

    Args:
        path: Slide file.
        base_mpp: Level-0 um/px, overriding ``openslide.mpp-x``.
    """

    def __init__(self, path: str, base_mpp: Optional[float] = None) -> None:
        import openslide
        self.path, self._base_mpp = path, base_mpp
        try:
            self._slide = openslide.OpenSlide(path)
        except Exception as err:  # OpenSlideError, OpenSlideUnsupportedFormatError, ...
            raise SlideReadError(f'{path}: OpenSlide cannot read it ({err})') from err
        self.width, self.height = self._slide.dimensions
        self.levels = [SlideLevel(h, w, self.width / w, self.height / h)
                       for w, h in self._slide.level_dimensions]
        mpp = self._slide.properties.get('openslide.mpp-x')
        self._metadata_mpp = (float(mpp) if mpp else None, 'the openslide.mpp-x property')
        colour = self._slide.properties.get('openslide.background-color') or 'FFFFFF'
        self._background = np.array([int(colour[i:i + 2], 16) for i in (0, 2, 4)], np.float32)

    def _read_level(self, level: int, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
        info = self.levels[level]
        origin = (round(x0 * info.downsample_x), round(y0 * info.downsample_y))  # level 0
        region = np.asarray(self._slide.read_region(origin, level, (x1 - x0, y1 - y0)))
        rgb = region[..., :3]
        if region.shape[-1] == 4 and region[..., 3].min() < 255:  # over the background
            alpha = region[..., 3:].astype(np.float32) / 255
            rgb = (rgb * alpha + self._background * (1 - alpha)).round().astype(np.uint8)
        return np.ascontiguousarray(rgb)

    def close(self) -> None:
        slide = getattr(self, '_slide', None)
        if slide is not None:
            slide.close()


def _missing() -> Optional[str]:
    try:
        import openslide  # noqa: F401
    except (ImportError, OSError):  # OSError: openslide-python without its library
        return ('other formats (MRXS, SCN, ...) need OpenSlide: '
                'pip install "crossspec_mmseg[openslide]"')
    return None


#: Every format OpenSlide reads; it claims any file it is given (its errors name it).
OPENSLIDE = SlideFormat('OpenSlide', OpenSlideReader, _missing)


def __getattr__(name: str):
    if name == 'open_slide':  # moved to .formats; this name goes in the next release
        from . import formats
        return moved_name(__name__, formats, name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
