"""What every slide reader offers (:class:`SlideSource`), and how a format
declares itself to :func:`~.formats.open_slide` (:class:`SlideFormat`).

Tiling, the tissue map and inference use only these members, so any reader
implementing them works there: the TIFF reader, the OpenSlide reader and the
converters' in-memory image (``converters.raster.ArrayReader``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, List, Optional, Protocol, Tuple, runtime_checkable

import numpy as np

from ..errors import BadInputError

__all__ = ['NotThisFormat', 'SlideFormat', 'SlideLevel', 'SlideReadError', 'SlideSource']


class SlideReadError(BadInputError):
    """The file is not a slide this reader understands (names the file)."""


@dataclass(frozen=True)
class SlideLevel:
    """One resolution of a slide: its size and level-0 pixels per pixel (x, y)."""

    height: int
    width: int
    downsample_x: float
    downsample_y: float

    @property
    def downsample(self) -> float:
        return self.downsample_x


@runtime_checkable
class SlideSource(Protocol):
    """A slide opened for reading by level.

    Attributes:
        path: The file (names it in errors).
        shape: Level-0 ``(height, width)``.
        mpp: Level-0 um/px, or None when unknown.
        levels: :class:`SlideLevel` of each level, finest first.
    """

    path: str
    levels: List[SlideLevel]

    @property
    def shape(self) -> Tuple[int, int]: ...

    @property
    def mpp(self) -> Optional[float]: ...

    def require_mpp(self) -> float:
        """Level-0 um/px, or :class:`~.resolution.SlideResolutionError` naming
        the file and ``--base-mpp``."""

    def level_for(self, downsample: float) -> int:
        """The coarsest level at least as fine as ``downsample`` level-0 px per px."""

    def level_side(self, side: int, level: int) -> int:
        """A level-0 length of ``side`` pixels measured at ``level``."""

    def read(self, x: int, y: int, w: int, h: int, level: int = 0) -> np.ndarray:
        """The level-0 window, clipped to the slide, as uint8 RGB at ``level``."""

    def level_rows(self, level: int, y0: int, y1: int) -> np.ndarray:
        """uint8 RGB rows ``[y0:y1]`` of ``level`` (level coordinates), whole width."""

    def close(self) -> None:
        """Release the file."""

    def __enter__(self) -> 'SlideSource': ...

    def __exit__(self, *exc) -> None: ...


class NotThisFormat(SlideReadError):
    """Raised by a :class:`SlideFormat` opener for a file that is not its
    format (the next format is tried; the message explains the refusal)."""


@dataclass(frozen=True)
class SlideFormat:
    """One slide format :func:`~.formats.open_slide` can open.

    Args:
        name: For messages (``TIFF``, ``OpenSlide``).
        open: ``(path, base_mpp) -> SlideSource``; raises :class:`NotThisFormat`
            when the file is not this format (checked by opening it, once),
            :class:`SlideReadError` when it is but cannot be read.
        missing: ``() -> None`` when the format can be read here, else what
            to install for it (the format is then skipped).
    """

    name: str
    open: Callable[[str, Optional[float]], SlideSource]
    missing: Callable[[], Optional[str]] = lambda: None
