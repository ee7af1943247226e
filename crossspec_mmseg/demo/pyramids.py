"""Synthetic pyramidal slides in the layouts scanners and converters write:
Aperio SVS, Hamamatsu NDPI, OME-TIFF (SubIFDs or one series per level) and
generic pyramidal TIFF, each recording its level-0 um/px the way that format
does."""
from __future__ import annotations

import struct
from typing import Optional, Sequence

import cv2
import numpy as np
import tifffile

__all__ = ['PYRAMID_LAYOUTS', 'write_pyramid', 'default_compression']

PYRAMID_LAYOUTS = ('svs', 'ndpi', 'ome', 'ome-series', 'generic')

NDPI_FORMAT_FLAG, NDPI_SOURCE_LENS = 65420, 65421  # Hamamatsu private tags


def default_compression() -> str:
    """JPEG when imagecodecs can encode it (what scanners write), else deflate."""
    try:
        import imagecodecs
        return 'jpeg' if imagecodecs.JPEG8.available else 'zlib'
    except (ImportError, AttributeError):
        return 'zlib'


def _levels(image: np.ndarray, downsamples: Sequence[int]) -> list:
    height, width = image.shape[:2]
    return [image if d == 1 else cv2.resize(image, (width // d, height // d),
                                            interpolation=cv2.INTER_AREA)
            for d in downsamples]


def write_pyramid(path: str, image: np.ndarray, layout: str, mpp: Optional[float],
                  downsamples: Sequence[int] = (1, 2, 4), tile: int = 256,
                  compression: Optional[str] = None) -> None:
    """Write RGB ``image`` as a tiled pyramid (levels by area resizing).

    Args:
        path: Output file.
        image: ``(H, W, 3)`` uint8 level 0.
        layout: One of :data:`PYRAMID_LAYOUTS` (``'ndpi'``: ``path`` must end
            in ``.ndpi``, the extension by which readers know NDPI's offsets).
        mpp: Level-0 um/px to record (None: record none).
        downsamples: Level-0 pixels per pixel of each level, 1 first.
        tile: TIFF tile side.
        compression: TIFF compression (default :func:`default_compression`).
    """
    if layout not in PYRAMID_LAYOUTS:
        raise ValueError(f'unknown layout {layout!r}; one of {PYRAMID_LAYOUTS}')
    if layout == 'ndpi' and not path.lower().endswith('.ndpi'):
        raise ValueError(f'{path}: an NDPI slide needs the .ndpi extension')
    levels = _levels(image, downsamples)
    options = dict(tile=(tile, tile), photometric='rgb',
                   compression=compression or default_compression())
    with tifffile.TiffWriter(path, bigtiff=image.size > 2 ** 31, ome=layout.startswith('ome')
                             ) as tif:
        if layout == 'svs':
            height, width = image.shape[:2]
            description = (f'Aperio Image Library v12.0.15\r\n{width}x{height} [0,0 {width}x'
                           f'{height}] ({tile}x{tile}) JPEG/RGB Q=70|AppMag = 20')
            description += f'|MPP = {mpp}' if mpp else ''
            tif.write(levels[0], description=description, metadata=None, **options)
            thumbnail = cv2.resize(image, (max(1, width // 16), max(1, height // 16)),
                                   interpolation=cv2.INTER_AREA)  # page 1, stripped, as Aperio's
            tif.write(thumbnail, description='Aperio thumbnail', metadata=None,
                      photometric='rgb')
            for level in levels[1:]:
                tif.write(level, description='Aperio level', metadata=None, **options)
        elif layout == 'ome':
            metadata = dict(axes='YXS', **({'PhysicalSizeX': mpp, 'PhysicalSizeY': mpp,
                                            'PhysicalSizeXUnit': 'µm'} if mpp else {}))
            tif.write(levels[0], subifds=len(levels) - 1, metadata=metadata, **options)
            for level in levels[1:]:
                tif.write(level, subfiletype=1, **options)
        elif layout == 'ome-series':
            for d, level in zip(downsamples, levels):
                tif.write(level, metadata=dict(axes='YXS', **(
                    {'PhysicalSizeX': mpp * d, 'PhysicalSizeY': mpp * d} if mpp else {})),
                    **options)
        elif layout == 'ndpi':  # every level a full page with its own resolution and lens
            for d, level in zip(downsamples, levels):
                resolution = dict(resolution=(1e4 / (mpp * d), 1e4 / (mpp * d)),
                                  resolutionunit='CENTIMETER') if mpp else {}
                tif.write(level, metadata=None, **resolution, **options, **_ndpi_page(20.0 / d))
            macro = np.full((64, 192, 3), 230, np.uint8)  # the slide's label end
            tif.write(macro, metadata=None, photometric='rgb', **_ndpi_page(-1.0))
        else:
            resolution = dict(resolution=(1e4 / mpp, 1e4 / mpp),
                              resolutionunit='CENTIMETER') if mpp else {}
            for i, level in enumerate(levels):
                tif.write(level, subfiletype=0 if i == 0 else 1, metadata=None,
                          **(resolution if i == 0 else {}), **options)
    if layout == 'ndpi':
        _to_ndpi_offsets(path)


def _ndpi_page(lens: float) -> dict:
    """The tags that mark a page as Hamamatsu's; ``lens`` -1 is the macro image."""
    return dict(software='NDP.scan', extratags=[(271, 's', 0, 'Hamamatsu', True),  # Make
                                                (NDPI_FORMAT_FLAG, 'I', 1, 1, True),
                                                (NDPI_SOURCE_LENS, 'f', 1, lens, True)])


def _to_ndpi_offsets(path: str) -> None:
    """Rewrite a classic little-endian TIFF's IFDs the NDPI way, in place.

    NDPI keeps TIFF's 12-byte tag entries but makes every IFD offset 64-bit:
    the header's first-IFD offset and each IFD's next-IFD offset take 8 bytes,
    and each IFD ends with the high 32 bits of its entries' values/offsets
    (zero below 4 GiB). The data stay where they are; the new IFDs are
    appended and the old ones left unreferenced.
    """
    with open(path, 'r+b') as f:
        data = f.read()
        if data[:4] != b'II*\x00':
            raise ValueError(f'{path}: not a classic little-endian TIFF')
        offset = struct.unpack_from('<I', data, 4)[0]
        if offset != 8:  # the 8-byte offset written below covers bytes 8-11
            raise ValueError(f'{path}: the first IFD must follow the header')
        ifds = []
        while offset:
            count = struct.unpack_from('<H', data, offset)[0]
            ifds.append((count, data[offset + 2:offset + 2 + 12 * count]))
            offset = struct.unpack_from('<I', data, offset + 2 + 12 * count)[0]
        first = position = len(data) + len(data) % 2  # IFDs start on a word boundary
        f.write(b'\x00' * (len(data) % 2))
        for i, (count, entries) in enumerate(ifds):
            position += 2 + 16 * count + 8
            following = position if i + 1 < len(ifds) else 0
            f.write(struct.pack('<H', count) + entries + struct.pack('<Q', following)
                    + b'\x00' * (4 * count))
        f.seek(4)
        f.write(struct.pack('<Q', first))  # over the old first IFD's count and entries
