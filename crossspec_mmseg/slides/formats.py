"""Opening a slide whatever its format: :func:`open_slide` tries the formats of
:data:`FORMATS` in order and returns the first reader that takes the file.

A format is one module declaring a :class:`~.source.SlideFormat` (an opener
that raises :class:`~.source.NotThisFormat` for files that are not its own,
and what to install when its library is missing) and one entry in
:data:`FORMATS`. The file is opened once: a format's check is its opening.
"""
from __future__ import annotations

from typing import List, Optional

from .openslide_reader import OPENSLIDE
from .reader import TIFF
from .source import NotThisFormat, SlideFormat, SlideReadError, SlideSource

__all__ = ['FORMATS', 'open_slide']

#: Tried in order: tifffile for TIFFs (SVS, NDPI, OME-TIFF, ...), then OpenSlide.
FORMATS: List[SlideFormat] = [TIFF, OPENSLIDE]


def open_slide(path: str, base_mpp: Optional[float] = None) -> SlideSource:
    """A reader for ``path`` from the first format of :data:`FORMATS` that
    takes it (``base_mpp``: level-0 um/px overriding the metadata).

    Raises:
        SlideReadError: unreadable, or no available format takes it (names
            the file, why the first format refused it and what to install for
            the formats missing here).
    """
    refusals, missing = [], []
    for fmt in FORMATS:
        need = fmt.missing()
        if need:
            missing.append(need)
            continue
        try:
            return fmt.open(path, base_mpp)
        except NotThisFormat as err:
            refusals.append(str(err))
    raise SlideReadError('; '.join(refusals[:1] + missing) or f'{path}: no slide format')
