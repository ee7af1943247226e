"""A slide's level-0 resolution in um/px, from the file's own metadata.

Sources, first found wins: the Aperio (SVS) ImageDescription ``MPP = ``, the
OME-XML ``PhysicalSizeX`` (with its unit), then the TIFF ``XResolution`` /
``ResolutionUnit`` pair (inch or centimetre; how NDPI and most generic
pyramidal TIFFs record it). Values outside :data:`MPP_RANGE` are rejected as
scanner defaults (e.g. 72 dpi) rather than trusted.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Optional, Tuple

import tifffile

from ..errors import BadInputError

__all__ = ['MPP_RANGE', 'SlideResolutionError', 'check_mpp', 'metadata_mpp']

#: Plausible um/px of a microscope slide (0.05: beyond optical limits; 50: a macro photo).
MPP_RANGE = (0.05, 50.0)
_APERIO_MPP = re.compile(r'\|\s*MPP\s*=\s*([0-9.eE+-]+)')
#: Micrometres per OME length unit.
_OME_UNITS = {'µm': 1.0, 'um': 1.0, 'micron': 1.0, 'nm': 1e-3, 'mm': 1e3, 'cm': 1e4, 'm': 1e6,
              'Å': 1e-4}
#: Micrometres per TIFF ResolutionUnit (2: inch, 3: centimetre).
_TIFF_UNITS = {2: 25400.0, 3: 10000.0}


class SlideResolutionError(BadInputError):
    """The slide's um/px is unknown or implausible (names the file and the fix)."""


def check_mpp(path: str, mpp: Optional[float], source: str) -> float:
    """``mpp`` if plausible; else :class:`SlideResolutionError` asking for ``--base-mpp``."""
    low, high = MPP_RANGE
    if mpp is not None and low <= mpp <= high:
        return float(mpp)
    found = 'none found' if mpp is None else f'{mpp:g} um/px is outside {low:g}-{high:g}'
    raise SlideResolutionError(
        f'{path}: no usable level-0 resolution in {source} ({found}); pass --base-mpp '
        'UM_PER_PX (the scanner\'s um per pixel, e.g. 0.25 at 40x, 0.5 at 20x)')


def metadata_mpp(tif: tifffile.TiffFile) -> Tuple[Optional[float], str]:
    """``(um/px or None, where it came from or was looked for)`` for the file's
    first page: the format's own record first, then the TIFF tags."""
    page = tif.pages.first
    found = []
    if tif.is_svs:
        match = _APERIO_MPP.search(page.description or '')
        found.append((float(match.group(1)) if match else None, 'the Aperio ImageDescription'))
    if tif.is_ome:
        found.append((_ome_mpp(tif.ome_metadata or ''), 'the OME-XML PhysicalSizeX'))
    found.append((_tiff_mpp(page), 'the TIFF XResolution/ResolutionUnit tags'))
    return next(((mpp, where) for mpp, where in found if mpp is not None),
                (None, ' or '.join(where for _, where in found)))


def _ome_mpp(xml: str) -> Optional[float]:
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return None
    pixels = next((e for e in root.iter() if e.tag.rsplit('}', 1)[-1] == 'Pixels'), None)
    if pixels is None or pixels.get('PhysicalSizeX') is None:
        return None
    factor = _OME_UNITS.get(pixels.get('PhysicalSizeXUnit', 'µm'))
    try:
        return float(pixels.get('PhysicalSizeX')) * factor if factor else None
    except ValueError:
        return None


def _tiff_mpp(page) -> Optional[float]:
    resolution, unit = page.tags.get('XResolution'), page.tags.get('ResolutionUnit')
    if resolution is None or unit is None or int(unit.value) not in _TIFF_UNITS:
        return None
    numerator, denominator = resolution.value
    if not numerator or not denominator:
        return None
    return _TIFF_UNITS[int(unit.value)] * denominator / numerator
