"""Synthetic pyramidal slides in the layouts scanners and converters write:
Aperio SVS, OME-TIFF (SubIFDs or one series per level) and generic pyramidal
TIFF, each recording its level-0 um/px the way that format does."""
from __future__ import annotations

from typing import Optional, Sequence

import cv2
import numpy as np
import tifffile

__all__ = ['PYRAMID_LAYOUTS', 'write_pyramid', 'default_compression']

PYRAMID_LAYOUTS = ('svs', 'ome', 'ome-series', 'generic')


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
        layout: One of :data:`PYRAMID_LAYOUTS`.
        mpp: Level-0 um/px to record (None: record none).
        downsamples: Level-0 pixels per pixel of each level, 1 first.
        tile: TIFF tile side.
        compression: TIFF compression (default :func:`default_compression`).
    """
    if layout not in PYRAMID_LAYOUTS:
        raise ValueError(f'unknown layout {layout!r}; one of {PYRAMID_LAYOUTS}')
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
        else:
            resolution = dict(resolution=(1e4 / mpp, 1e4 / mpp),
                              resolutionunit='CENTIMETER') if mpp else {}
            for i, level in enumerate(levels):
                tif.write(level, subfiletype=0 if i == 0 else 1, metadata=None,
                          **(resolution if i == 0 else {}), **options)
