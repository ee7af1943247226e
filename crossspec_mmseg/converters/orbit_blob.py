"""Decode Orbit image-annotation blobs (``RAW_ANNOTATION.DATA``).

A blob is a Java serialisation stream written by Orbit's
``ImageAnnotation.getData()``: an int (ARGB colour), the shape object, then
ints ``subType`` and ``group`` (older records stop after the shape: subType 0,
group 1). The stream is *parsed* with ``javaobj.v2`` (pure Python); nothing in
it is executed and no Java runtime is needed.

Shapes: ``PolygonExt`` (``java.awt.Polygon``: ``npoints``, over-allocated
``xpoints``/``ypoints``) and ``RectangleExt`` (``java.awt.Rectangle``).
Coordinates are stored at a percentage of full resolution (the Java field
``scale``, here :attr:`OrbitShape.stored_percent`, so that "scale" keeps its
one meaning in the package: a resize factor); full resolution is
``stored * 100 / stored_percent``.
"""
from __future__ import annotations

import io
import struct
import warnings
from dataclasses import dataclass
from typing import Optional

import numpy as np
from javaobj.v2 import beans, core, transformers

from .errors import BadInputError

__all__ = ['SUBTYPE_NORMAL', 'SUBTYPE_INCLUSION', 'SUBTYPE_EXCLUSION', 'SUBTYPE_ROI',
           'OrbitBlobError', 'OrbitShape', 'decode_orbit_blob']

SUBTYPE_NORMAL, SUBTYPE_INCLUSION, SUBTYPE_EXCLUSION, SUBTYPE_ROI = 0, 1, 2, 3
_MODELS = 'com.actelion.research.orbit.imageAnalysis.models.'
SKIPPED_SHAPES = {_MODELS + 'Arc2DExt'}


class OrbitBlobError(BadInputError):
    """A blob that is not an Orbit shape annotation (names the record)."""


@dataclass
class OrbitShape:
    """One decoded annotation.

    Attributes:
        kind: ``'polygon'`` or ``'rectangle'``.
        points: ``(N, 2)`` float64 ``[x, y]`` in full-resolution pixels
            (a rectangle as its 4 corners).
        stored: The raw stored values (polygon points or ``x, y, w, h``).
        stored_percent: Percent of full resolution the coordinates were
            stored at (Orbit's ``scale`` field).
        color_argb: Signed 32-bit ARGB colour.
        sub_type: 0 normal, 1 inclusion, 2 exclusion, 3 ROI.
        annotation_group: Orbit's annotation group number (stored, unused).
    """

    kind: str
    points: np.ndarray
    stored: np.ndarray
    stored_percent: float
    color_argb: int
    sub_type: int
    annotation_group: int

    @property
    def scale(self) -> float:
        """Deprecated: :attr:`stored_percent`."""
        warnings.warn('OrbitShape.scale is deprecated and goes in the next release: use '
                      'stored_percent', DeprecationWarning, stacklevel=2)
        return self.stored_percent


def _fields(instance: beans.JavaInstance) -> dict:
    values = {}
    for fields in instance.field_data.values():
        for field, value in fields.items():
            values[field.name] = value
    return values


def _ints(block: bytes, record: str, what: str) -> tuple:
    if len(block) % 4:
        raise OrbitBlobError(f'{record}: {what} block of {len(block)} bytes is not int32s')
    return struct.unpack(f'>{len(block) // 4}i', block)


def decode_orbit_blob(data: bytes, record: str = 'blob') -> Optional[OrbitShape]:
    """Decode one blob.

    Args:
        data: The ``DATA`` column bytes.
        record: Name for messages, e.g. ``orbit.db RAW_ANNOTATION_ID 17``.

    Returns:
        The shape, or ``None`` for shapes that cannot be rasterised as regions
        (``Arc2DExt``), which callers skip with a warning.

    Raises:
        OrbitBlobError: not a Java stream, cut short, or an unknown class.
    """
    if not data:
        raise OrbitBlobError(f'{record}: empty blob')
    try:
        parser = core.JavaStreamParser(io.BytesIO(bytes(data)),
                                       [transformers.DefaultObjectTransformer()])
        contents = parser.run()
    except Exception as err:  # javaobj raises ValueError/IOError/struct.error on bad data
        raise OrbitBlobError(f'{record}: not a complete Java serialisation stream '
                             f'({type(err).__name__}: {err})') from None
    blocks = [c.data for c in contents if isinstance(c, beans.BlockData)]
    shapes = [c for c in contents if isinstance(c, beans.JavaInstance)]
    if len(shapes) != 1 or not blocks:
        raise OrbitBlobError(f'{record}: expected colour int + one shape object, got '
                             f'{[type(c).__name__ for c in contents]}')
    ints = _ints(b''.join(blocks), record, 'int')
    if len(ints) not in (1, 3):
        raise OrbitBlobError(f'{record}: expected 1 or 3 ints around the shape, got {len(ints)}')
    color = ints[0]
    sub_type, group = (ints[1], ints[2]) if len(ints) == 3 else (SUBTYPE_NORMAL, 1)

    shape = shapes[0]
    class_name = shape.classdesc.name
    if class_name in SKIPPED_SHAPES:
        return None
    values = _fields(shape)
    percent = float(values.get('scale', 100.0))
    if not percent > 0:
        raise OrbitBlobError(f'{record}: invalid stored percent (Java field scale) {percent}')
    if class_name == _MODELS + 'PolygonExt':
        n = int(values['npoints'])
        xs, ys = list(values['xpoints'] or []), list(values['ypoints'] or [])
        if n < 0 or n > min(len(xs), len(ys)):
            raise OrbitBlobError(f'{record}: npoints={n} exceeds the stored arrays')
        stored = np.array([xs[:n], ys[:n]], np.float64).T.reshape(-1, 2)
        kind, corners = 'polygon', stored
    elif class_name == _MODELS + 'RectangleExt':
        x, y, w, h = (float(values[k]) for k in ('x', 'y', 'width', 'height'))
        stored = np.array([x, y, w, h])
        kind, corners = 'rectangle', np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]])
    else:
        raise OrbitBlobError(f'{record}: unknown shape class {class_name}')
    return OrbitShape(kind=kind, points=corners * 100.0 / percent, stored=stored,
                      stored_percent=percent,
                      color_argb=color, sub_type=sub_type,
                      annotation_group=group)
