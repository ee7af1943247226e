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

import contextlib
import csv
import json
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, List, Optional, Sequence

import numpy as np
import tifffile

from ..utils.atomic import atomic_path
from .disk_mask import Mask, mask_bands, mask_tiles
from .objects import SlideObject, iter_objects

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
    or a :class:`~.disk_mask.DiskMask`), reading it a band at a time; objects
    go to the GeoJSON and the table as they are found, never all held."""
    if outputs.ome_tiff:
        write_ome_mask(outputs.ome_tiff, mask, mpp)
    if outputs.geojson or outputs.objects_csv:
        with contextlib.ExitStack() as files:
            sinks = []
            if outputs.geojson:
                sinks.append(files.enter_context(_geojson_file(outputs.geojson, outputs)))
            if outputs.objects_csv:
                sinks.append(files.enter_context(
                    _objects_csv_file(outputs.objects_csv, mpp, outputs)))
            for obj in iter_objects(mask_bands(mask), mask.shape[1], outputs.tolerance):
                for add in sinks:
                    add(obj)


def write_geojson(path: str, objects: Iterable[SlideObject], outputs: SlideOutputs) -> None:
    """A GeoJSON FeatureCollection QuPath imports, one feature at a time."""
    with _geojson_file(path, outputs) as add:
        for obj in objects:
            add(obj)


def write_objects_csv(path: str, objects: Iterable[SlideObject], mpp: Optional[float],
                      outputs: SlideOutputs) -> None:
    """One row per object; um columns empty when the slide's um/px is unknown."""
    with _objects_csv_file(path, mpp, outputs) as add:
        for obj in objects:
            add(obj)


#: A GeoJSON Feature: id, rings, object type, name (the id), classification.
_FEATURE = ('{"type": "Feature", "id": "%d", "geometry": {"type": "Polygon", "coordinates": '
            '[%s]}, "properties": {"objectType": "%s", "name": "%d", "classification": %s}}')


def _ring_json(ring: np.ndarray) -> str:
    """``[[x, y], ...]`` of an integer ring, closed (first point repeated), as
    GeoJSON requires; formatted in one go (a list per point is ~10x slower)."""
    return '[' + ('[%d, %d], ' * len(ring) + '[%d, %d]]') % (*ring.ravel().tolist(),
                                                             *ring[0].tolist())


@contextlib.contextmanager
def _geojson_file(path: str, outputs: SlideOutputs) -> Iterator[Callable[[SlideObject], None]]:
    """A function adding one feature to the GeoJSON at ``path`` (atomic: the
    file appears complete when the block ends without an error)."""
    classification = {}  # label -> its JSON, made once
    separator = '\n'
    with atomic_path(path) as tmp, open(tmp, 'w') as f:
        f.write('{"type": "FeatureCollection", "features": [')

        def add(obj: SlideObject) -> None:
            nonlocal separator
            if obj.label not in classification:
                classification[obj.label] = json.dumps({'name': outputs.class_name(obj.label),
                                                        'color': outputs.color(obj.label)})
            f.write(separator)
            separator = ',\n'
            f.write(_FEATURE % (obj.id, ', '.join(map(_ring_json, obj.rings)),
                                outputs.object_type, obj.id, classification[obj.label]))

        yield add
        f.write('\n]}\n')


@contextlib.contextmanager
def _objects_csv_file(path: str, mpp: Optional[float], outputs: SlideOutputs
                      ) -> Iterator[Callable[[SlideObject], None]]:
    """A function adding one object's row to the table at ``path`` (atomic)."""
    def um(value: float, power: int = 1) -> str:
        return '' if mpp is None else f'{value * mpp ** power:.4f}'

    with atomic_path(path) as tmp, open(tmp, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(CSV_COLUMNS)

        def add(obj: SlideObject) -> None:
            perimeter = obj.perimeter
            writer.writerow([obj.id, outputs.class_name(obj.label), obj.area, um(obj.area, 2),
                             f'{perimeter:.2f}', um(perimeter), f'{obj.centroid[0]:.2f}',
                             f'{obj.centroid[1]:.2f}', *obj.bbox])

        yield add


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
