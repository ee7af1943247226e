"""Outputs pathologists open, written atomically from a slide's label mask:

* GeoJSON ``FeatureCollection`` for QuPath (File > Import objects): one
  Polygon (with holes) per object, level-0 pixel coordinates,
  ``objectType`` and ``classification {name, color}`` properties;
* a pyramidal OME-TIFF label mask (tiled, zlib, levels by nearest
  downsampling, ``PhysicalSizeX/Y`` in um);
* a per-object CSV: id, class, area (px and um^2), perimeter, centroid and
  bounding box.

The mask is read in row bands (:func:`.disk_mask.mask_bands`) and objects are
found band by band (:mod:`.objects`), so memory stays bounded.
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from typing import List, Optional, Sequence

import numpy as np
import tifffile

from ..utils.atomic import atomic_path
from .disk_mask import Mask, mask_bands, mask_tiles
from .objects import SlideObject, trace_objects

__all__ = ['OBJECT_TYPES', 'SlideOutputs', 'write_outputs', 'write_geojson',
           'write_objects_csv', 'write_ome_mask']

OBJECT_TYPES = ('annotation', 'detection')
CSV_COLUMNS = ('id', 'class', 'area_px', 'area_um2', 'perimeter_px', 'perimeter_um',
               'centroid_x', 'centroid_y', 'bbox_x', 'bbox_y', 'bbox_width', 'bbox_height')


@dataclass
class SlideOutputs:
    """Which outputs to write besides the mask, and how.

    Args:
        geojson, ome_tiff, objects_csv: Paths (None: not written).
        classes: Class names by label (default ``class1``, ...); label 0 is
            background and never an object.
        palette: ``[r, g, b]`` by label, for QuPath's class colours.
        object_type: ``annotation`` (editable) or ``detection`` (many, light).
        tolerance: Polygon simplification (``approxPolyDP`` epsilon) in
            level-0 pixels; 0 keeps exact pixel outlines.
    """

    geojson: Optional[str] = None
    ome_tiff: Optional[str] = None
    objects_csv: Optional[str] = None
    classes: Optional[Sequence[str]] = None
    palette: Optional[Sequence[Sequence[int]]] = None
    object_type: str = 'annotation'
    tolerance: float = 0.5

    def __post_init__(self) -> None:
        if self.object_type not in OBJECT_TYPES:
            raise ValueError(f'object_type must be one of {OBJECT_TYPES}, got '
                             f'{self.object_type!r}')

    def class_name(self, label: int) -> str:
        return str(self.classes[label]) if self.classes and label < len(self.classes) else \
            f'class{label}'

    def color(self, label: int) -> List[int]:
        if self.palette and label < len(self.palette):
            return [int(v) for v in self.palette[label]]
        rng = np.random.default_rng(label)  # stable, distinct enough
        return rng.integers(40, 256, 3).tolist()


def write_outputs(mask: Mask, mpp: Optional[float], outputs: SlideOutputs) -> None:
    """Write each output ``outputs`` names from the level-0 ``mask`` (an array
    or a :class:`~.disk_mask.DiskMask`), reading it a band at a time."""
    if outputs.ome_tiff:
        write_ome_mask(outputs.ome_tiff, mask, mpp)
    if outputs.geojson or outputs.objects_csv:
        objects = trace_objects(mask_bands(mask), mask.shape[1], outputs.tolerance)
        if outputs.geojson:
            write_geojson(outputs.geojson, objects, outputs)
        if outputs.objects_csv:
            write_objects_csv(outputs.objects_csv, objects, mpp, outputs)


#: A GeoJSON Feature: id, rings, object type, name (the id), classification.
_FEATURE = ('{"type": "Feature", "id": "%d", "geometry": {"type": "Polygon", "coordinates": '
            '[%s]}, "properties": {"objectType": "%s", "name": "%d", "classification": %s}}')


def _ring_json(ring: np.ndarray) -> str:
    """``[[x, y], ...]`` of an integer ring, closed (first point repeated), as
    GeoJSON requires; formatted in one go (a list per point is ~10x slower)."""
    return '[' + ('[%d, %d], ' * len(ring) + '[%d, %d]]') % (*ring.ravel().tolist(),
                                                             *ring[0].tolist())


def write_geojson(path: str, objects: List[SlideObject], outputs: SlideOutputs) -> None:
    """A GeoJSON FeatureCollection QuPath imports, one feature at a time."""
    classification = {}  # label -> its JSON, made once
    with atomic_path(path) as tmp, open(tmp, 'w') as f:
        f.write('{"type": "FeatureCollection", "features": [')
        for i, obj in enumerate(objects):
            if obj.label not in classification:
                classification[obj.label] = json.dumps({'name': outputs.class_name(obj.label),
                                                        'color': outputs.color(obj.label)})
            f.write(',\n' if i else '\n')
            f.write(_FEATURE % (obj.id, ', '.join(map(_ring_json, obj.rings)),
                                outputs.object_type, obj.id, classification[obj.label]))
        f.write('\n]}\n')


def write_objects_csv(path: str, objects: List[SlideObject], mpp: Optional[float],
                      outputs: SlideOutputs) -> None:
    """One row per object; um columns empty when the slide's um/px is unknown."""
    def um(value: float, power: int = 1) -> str:
        return '' if mpp is None else f'{value * mpp ** power:.4f}'

    with atomic_path(path) as tmp, open(tmp, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(CSV_COLUMNS)
        for obj in objects:
            perimeter = obj.perimeter
            writer.writerow([obj.id, outputs.class_name(obj.label), obj.area, um(obj.area, 2),
                             f'{perimeter:.2f}', um(perimeter), f'{obj.centroid[0]:.2f}',
                             f'{obj.centroid[1]:.2f}', *obj.bbox])


def write_ome_mask(path: str, mask: Mask, mpp: Optional[float], tile: int = 512) -> None:
    """Pyramidal OME-TIFF of the labels (levels halve until one fits a tile)."""
    steps = [1]
    while max(-(-side // steps[-1]) for side in mask.shape) > tile:
        steps.append(2 * steps[-1])
    options = dict(tile=(tile, tile), compression='zlib', photometric='minisblack',
                   dtype=np.uint8)
    metadata = {'axes': 'YX'}
    if mpp:
        metadata.update(PhysicalSizeX=mpp, PhysicalSizeXUnit='µm', PhysicalSizeY=mpp,
                        PhysicalSizeYUnit='µm')
    with atomic_path(path) as tmp, tifffile.TiffWriter(
            tmp, bigtiff=mask.shape[0] * mask.shape[1] > 2 ** 31, ome=True) as tif:
        for i, step in enumerate(steps):
            per_cm = dict(resolution=(1e4 / (mpp * step),) * 2,
                          resolutionunit='CENTIMETER') if mpp else {}
            extra = dict(subifds=len(steps) - 1, metadata=metadata) if i == 0 else dict(
                subfiletype=1, metadata=None)
            shape = tuple(-(-side // step) for side in mask.shape)
            tif.write(mask_tiles(mask, tile, step), shape=shape, **options, **per_cm, **extra)
