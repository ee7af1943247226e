"""What a typed nuclei run writes (:mod:`.typed_nuclei`), each file atomically:

* GeoJSON for QuPath: one feature per nucleus, ``objectType`` ``detection``
  (by default), ``classification {name, color}`` of its type in the label
  set asked for, and ``measurements`` holding the type probabilities
  (``prob_<class>``). The geometry is a ``Polygon`` (with holes), or a
  ``MultiPolygon`` for the rare nucleus whose pixels are not 4-connected;
  level-0 pixel corners, outlines on pixel edges as :mod:`.objects` traces
  them;
* the objects CSV: :data:`TYPED_CSV_COLUMNS` then ``prob_<class>`` per
  class of the label set;
* a pyramidal OME-TIFF of two channels, ``nuclei`` (1 nucleus, 2 a
  nucleus pixel on its outline: touching nuclei stay apart) and ``type``
  (the type map, the mask ``--out`` holds);
* the per-slide summary (JSON): tissue area, count and density per mm^2 of
  tissue per type.

The GeoJSON and the CSV are written a nucleus at a time as tiles finish
(:func:`typed_geojson_file`, :func:`typed_csv_file` give the function that
adds one), so no writer holds more than one nucleus.
"""
from __future__ import annotations

import contextlib
import csv
import json
from dataclasses import dataclass
from typing import Callable, Iterator, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import tifffile

from ..utils.atomic import atomic_path
from .disk_mask import Mask, mask_tiles
from .exports import _ring_json

__all__ = ['OME_CHANNELS', 'TYPED_CSV_COLUMNS', 'TypedNucleus', 'typed_csv_file',
           'typed_geojson_file', 'write_nuclei_summary', 'write_typed_ome']

#: The objects CSV's columns before the per-class probabilities (``prob_<class>``).
TYPED_CSV_COLUMNS = ('id', 'type', 'type_id', 'probability', 'area_px', 'area_um2',
                     'perimeter_px', 'perimeter_um', 'centroid_x', 'centroid_y', 'centroid_x_um',
                     'centroid_y_um', 'bbox_x', 'bbox_y', 'bbox_width', 'bbox_height')
#: The OME-TIFF's channels.
OME_CHANNELS = ('nuclei', 'type')


@dataclass
class TypedNucleus:
    """One nucleus of a slide, as written.

    ``label`` is its type (an id of the label set), ``probs`` the
    probability of each label of the set (summed leaf probabilities);
    ``parts`` its 4-connected pieces (almost always one), each a list of
    rings (``(n, 2)`` int level-0 pixel corners, outer first, then holes).
    """

    id: int
    label: int
    probs: np.ndarray
    area: int                             #: level-0 pixels
    centroid: Tuple[float, float]         #: (x, y), level-0 pixels
    bbox: Tuple[int, int, int, int]       #: (x, y, width, height), level-0 pixels
    parts: List[List[np.ndarray]]

    @property
    def perimeter(self) -> float:
        """Length of the (simplified) rings of every part, holes included, in pixels."""
        return float(sum(cv2.arcLength(r.astype(np.float32).reshape(-1, 1, 2), True)
                         for rings in self.parts for r in rings))


#: A GeoJSON Feature: id, geometry type and coordinates, object type, name (the id),
#: classification, measurements.
_FEATURE = ('{"type": "Feature", "id": "%d", "geometry": {"type": "%s", "coordinates": %s}, '
            '"properties": {"objectType": "%s", "name": "%d", "classification": %s, '
            '"measurements": {%s}}}')


def _polygon_json(rings: Sequence[np.ndarray]) -> str:
    return '[' + ', '.join(map(_ring_json, rings)) + ']'


@contextlib.contextmanager
def typed_geojson_file(path: str, types, object_type: str = 'detection'
                       ) -> Iterator[Callable[[TypedNucleus], None]]:
    """A function adding one nucleus's feature to the GeoJSON at ``path``
    (atomic: the file appears complete when the block ends without an
    error). ``types``: the :class:`~.typed_nuclei.NucleusTypes` of the run."""
    classification = [json.dumps({'name': name, 'color': colour})
                      for name, colour in zip(types.names, types.colours)]
    columns = types.columns
    measurements = ', '.join(json.dumps(f'prob_{types.names[j]}') + ': %.4f' for j in columns)
    separator = '\n'
    with atomic_path(path) as tmp, open(tmp, 'w') as f:
        f.write('{"type": "FeatureCollection", "features": [')

        def add(nucleus: TypedNucleus) -> None:
            nonlocal separator
            if len(nucleus.parts) == 1:
                kind, coordinates = 'Polygon', _polygon_json(nucleus.parts[0])
            else:
                kind = 'MultiPolygon'
                coordinates = '[' + ', '.join(map(_polygon_json, nucleus.parts)) + ']'
            f.write(separator)
            separator = ',\n'
            f.write(_FEATURE % (nucleus.id, kind, coordinates, object_type, nucleus.id,
                                classification[nucleus.label],
                                measurements % tuple(nucleus.probs[columns].tolist())))

        yield add
        f.write('\n]}\n')


@contextlib.contextmanager
def typed_csv_file(path: str, types, mpp: Optional[float]
                   ) -> Iterator[Callable[[TypedNucleus], None]]:
    """A function adding one nucleus's row to the table at ``path`` (atomic);
    um columns are empty when the slide's um/px is unknown."""
    def um(value: float, power: int = 1) -> str:
        return '' if mpp is None else f'{value * mpp ** power:.4f}'

    columns = types.columns
    with atomic_path(path) as tmp, open(tmp, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow([*TYPED_CSV_COLUMNS, *(f'prob_{types.names[j]}' for j in columns)])

        def add(nucleus: TypedNucleus) -> None:
            perimeter = nucleus.perimeter
            x, y = nucleus.centroid
            probs = nucleus.probs
            writer.writerow([nucleus.id, types.names[nucleus.label], nucleus.label,
                             f'{probs[nucleus.label]:.4f}', nucleus.area, um(nucleus.area, 2),
                             f'{perimeter:.2f}', um(perimeter), f'{x:.2f}', f'{y:.2f}', um(x),
                             um(y), *nucleus.bbox, *(f'{probs[j]:.4f}' for j in columns)])

        yield add


def write_typed_ome(path: str, nuclei: Mask, types: Mask, mpp: Optional[float],
                    tile: int = 512) -> None:
    """Pyramidal OME-TIFF with the channels :data:`OME_CHANNELS` (``CYX``,
    uint8, tiled, zlib; levels halve until one fits a tile; ``PhysicalSizeX/Y``
    in um when known), read a band at a time from the two level-0 masks."""
    if tuple(nuclei.shape) != tuple(types.shape):
        raise ValueError(f'channel shapes differ: {nuclei.shape} and {types.shape}')
    steps = [1]
    while max(-(-side // steps[-1]) for side in types.shape) > tile:
        steps.append(2 * steps[-1])
    options = dict(tile=(tile, tile), compression='zlib', photometric='minisblack',
                   dtype=np.uint8)
    metadata = {'axes': 'CYX', 'Channel': {'Name': list(OME_CHANNELS)}}
    if mpp:
        metadata.update(PhysicalSizeX=mpp, PhysicalSizeXUnit='µm', PhysicalSizeY=mpp,
                        PhysicalSizeYUnit='µm')
    height, width = types.shape
    with atomic_path(path) as tmp, tifffile.TiffWriter(
            tmp, bigtiff=2 * height * width > 2 ** 31, ome=True) as tif:
        for i, step in enumerate(steps):
            per_cm = dict(resolution=(1e4 / (mpp * step),) * 2,
                          resolutionunit='CENTIMETER') if mpp else {}
            extra = dict(subifds=len(steps) - 1, metadata=metadata) if i == 0 else dict(
                subfiletype=1, metadata=None)
            shape = (len(OME_CHANNELS), -(-height // step), -(-width // step))
            tiles = (t for mask in (nuclei, types) for t in mask_tiles(mask, tile, step))
            tif.write(tiles, shape=shape, **options, **per_cm, **extra)


def write_nuclei_summary(path: str, summary: dict) -> None:
    """The per-slide summary as JSON (atomically)."""
    with atomic_path(path) as tmp, open(tmp, 'w') as f:
        json.dump(summary, f, indent=1)
        f.write('\n')
