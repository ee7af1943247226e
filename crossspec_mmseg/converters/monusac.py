"""MoNuSAC 2020 (H&E nuclei of 4 types; breast, kidney, lung, prostate) -> nucleus tiles.

Reads the unpacked download as it is: ``MoNuSAC_images_and_annotations/``
(training) and ``MoNuSAC Testing Data and Annotations/`` (test), each holding
one folder per TCGA slide (``TCGA-XX-XXXX-01Z-00-DX1``) with
``<slide>_<k>.svs`` (pixels, read through :func:`~crossspec_mmseg.slides.open_slide`;
um/px from the Aperio ``MPP``), ``<slide>_<k>.xml`` (ImageScope polygons) and
``.tif`` copies (ignored: RGBA, some missing, channel order suspect).

XML: each ``Annotation``'s first ``Attributes/Attribute@Name`` is its class
(case-insensitive); its ``Regions/Region`` elements (``RegionAttributeHeaders``
skipped) are polygons of ``Vertices/Vertex@X,@Y`` in level-0 pixels. Regions are
rasterised in file order (a pixel is inside when its centre is), later ones
overwriting earlier ones; each non-ambiguous region with 3 or more vertices
is one instance (ids 1, 2, ... in file order); ``Ambiguous`` regions are 255
in the type mask and 0 in the instance map. A region lying wholly outside its image is refused (the
XML belongs to another image or scale); one crossing the border is clipped
and counted; one with fewer than 3 vertices is skipped and counted.

Splits: the folder gives ``train``/``test``; :func:`~.nuclei.held_out` picks
``val_fraction`` of the training patients (TCGA barcode, the first 12
characters of the slide folder; slides of one patient stay together) per
organ. The download names no organs: ``organs`` (a CSV ``patient,organ``)
supplies them, else ``organ`` is ''.
"""
from __future__ import annotations

import os
import os.path as osp
import re
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from functools import partial
from typing import Dict, List, Optional, Tuple

import numpy as np

from ..slides import open_slide
from ..structures.nucleus_tree import NUCLEUS_CLASSES
from .errors import (
    BadDownloadError,
    BadInputError,
    MissingDownloadError,
    MissingInputError,
    require_folder,
)
from .nuclei import NucleiImage, NucleusLabels, convert_nuclei, held_out
from .raster import PolygonSet
from .tables import index_rows, read_table
from .tiling import ConversionSummary, SkippedInputs, build_sources

__all__ = ['MONUSAC_CLASSES', 'MONUSAC_FOLDERS', 'MonusacImage', 'Region', 'patient_barcode',
           'parse_monusac_xml', 'rasterise_regions', 'read_organs', 'discover_monusac',
           'monusac_images', 'convert_monusac']

#: Class names by MoNuSAC's own id (its n-ary mask order; 0 background), as the
#: nucleus tree lists them.
MONUSAC_CLASSES = tuple(name for name, _ in NUCLEUS_CLASSES['monusac'])
AMBIGUOUS = 'ambiguous'
IGNORE = 255
#: Top-level folder -> split.
MONUSAC_FOLDERS = {'MoNuSAC_images_and_annotations': 'train',
                   'MoNuSAC Testing Data and Annotations': 'test'}
_BARCODE = re.compile(r'^TCGA-[A-Z0-9]{2}-[A-Z0-9]{4}', re.IGNORECASE)
#: Quirk keys (counts of regions).
CLIPPED = 'regions crossing the image border (clipped)'
DEGENERATE = 'regions with fewer than 3 vertices (skipped)'
HIDDEN = 'regions hidden by later ones or too small for a pixel'
AMBIGUOUS_REGIONS = 'Ambiguous regions (ignore)'


@dataclass
class Region:
    """One XML region: its class id (255 Ambiguous), vertices ``(K, 2)`` x y,
    and where it is (1-based annotation and region positions)."""

    label: int
    points: np.ndarray
    annotation: int
    index: int


def patient_barcode(folder: str) -> str:
    """``'TCGA-55-1594-01Z-00-DX1'`` -> ``'TCGA-55-1594'`` (upper case).

    Raises:
        BadInputError: the name does not start with a TCGA patient barcode.
    """
    match = _BARCODE.match(folder)
    if not match:
        raise BadInputError(f'MoNuSAC folder {folder!r} does not start with a TCGA patient '
                            'barcode (TCGA-XX-XXXX); its patient is unknown: rename it')
    return match.group(0).upper()


def _class_of(path: str, annotation: ET.Element, a: int) -> int:
    attribute = annotation.find('Attributes/Attribute')
    name = '' if attribute is None else attribute.get('Name', '').strip()
    if not name:
        raise BadInputError(f'{path}: annotation {a} has no Attributes/Attribute@Name (its '
                            'class)')
    if name.lower() == AMBIGUOUS:
        return IGNORE
    if name.lower() not in MONUSAC_CLASSES[1:]:
        raise BadInputError(f'{path}: annotation {a}: unknown class {name!r} (expected '
                            'Epithelial, Lymphocyte, Neutrophil, Macrophage or Ambiguous)')
    return MONUSAC_CLASSES.index(name.lower())


def _vertices(path: str, region: ET.Element, where: str) -> np.ndarray:
    points = []
    for v, vertex in enumerate(region.findall('Vertices/Vertex'), start=1):
        point = []
        for axis in 'XY':
            text = vertex.get(axis)
            try:
                value = float(text)
            except (TypeError, ValueError):
                value = float('nan')
            if not np.isfinite(value):
                raise BadInputError(f'{path}: {where} vertex {v}: {axis}={text!r} is not a '
                                    'finite number')
            point.append(value)
        points.append(point)
    return np.asarray(points, np.float64).reshape(-1, 2)


def parse_monusac_xml(path: str) -> List[Region]:
    """The regions of one XML, in file order (annotation, then region).

    Raises:
        BadInputError: unreadable XML, an annotation without a class, an
            unknown class name, a non-numeric vertex (naming the file and
            where).
    """
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as err:
        raise BadInputError(f'{path}: unreadable XML ({err}); re-extract it') from None
    regions = []
    for a, annotation in enumerate(root.iter('Annotation'), start=1):
        label = _class_of(path, annotation, a)
        for r, region in enumerate(annotation.findall('Regions/Region'), start=1):
            where = f'annotation {a} region {r} (Id={region.get("Id")})'
            regions.append(Region(label, _vertices(path, region, where), a, r))
    return regions


def rasterise_regions(regions: List[Region], shape: Tuple[int, int], path: str
                      ) -> Tuple[np.ndarray, np.ndarray, Counter]:
    """``(instances int32, types uint8, quirks)`` of ``regions`` on an image
    of ``shape`` (rules in the module docstring; ``path`` names errors)."""
    height, width = shape
    instances = np.zeros(shape, np.int32)
    types = np.zeros(shape, np.uint8)
    quirks, next_id = Counter(), 0
    for region in regions:
        if len(region.points) < 3:
            quirks[DEGENERATE] += 1
            continue
        (x0, y0), (x1, y1) = region.points.min(0), region.points.max(0)
        if x1 < 0 or y1 < 0 or x0 > width or y0 > height:
            raise BadInputError(
                f'{path}: annotation {region.annotation} region {region.index} lies outside '
                f'the image (x {x0:g}..{x1:g}, y {y0:g}..{y1:g}; the image spans x 0..{width}, '
                f'y 0..{height}): the XML belongs to another image or scale')
        if x0 < 0 or y0 < 0 or x1 > width or y1 > height:
            quirks[CLIPPED] += 1
        left, top = max(0, int(np.floor(x0))), max(0, int(np.floor(y0)))
        right, bottom = min(width, int(np.ceil(x1)) + 1), min(height, int(np.ceil(y1)) + 1)
        if region.label == IGNORE:
            quirks[AMBIGUOUS_REGIONS] += 1
            value = 0
        else:
            next_id += 1
            value = next_id
        if right > left and bottom > top:  # else it only touches the border: no pixel
            inside = PolygonSet([[region.points]]).mask(left, top, right - left,
                                                        bottom - top).astype(bool)
            instances[top:bottom, left:right][inside] = value
            types[top:bottom, left:right][inside] = region.label
    quirks[HIDDEN] += next_id - (len(np.unique(instances)) - 1)
    return instances, types, +quirks


def read_organs(path: str) -> Dict[str, str]:
    """``{TCGA barcode: organ}`` (lower case) from a CSV ``patient,organ``;
    ``patient`` may be a barcode or a slide folder name.

    Raises:
        BadDownloadError: missing columns, a patient given twice, or a
            patient that is not a TCGA barcode (naming the line).
    """
    rows = read_table(path, ('patient', 'organ'))
    for line, row in rows:
        if not _BARCODE.match(row['patient']):
            raise BadDownloadError(f'{path}:{line}: patient {row["patient"]!r} is not a TCGA '
                                   'barcode (TCGA-XX-XXXX)')
    indexed = index_rows(path, rows, 'patient', lambda p: p[:12].upper())
    return {patient: row['organ'].lower() for patient, (_, row) in indexed.items()}


@dataclass
class MonusacImage:
    """One MoNuSAC image and its files."""

    name: str
    folder: str
    patient: str
    split: str
    svs: str
    xml: str
    organ: str = ''


def _slide_folders(raw_dir: str) -> List[Tuple[str, str]]:
    """``(path, split)`` of every slide folder in the two top-level folders."""
    found = []
    for top, split in MONUSAC_FOLDERS.items():
        base = osp.join(raw_dir, top)
        if osp.isdir(base):
            found += [(osp.join(base, d), split) for d in sorted(os.listdir(base))
                      if osp.isdir(osp.join(base, d))]
    if not found:
        names = ' nor '.join(map(repr, MONUSAC_FOLDERS))
        raise MissingDownloadError(f'{raw_dir}: neither {names} holds slide folders; pass the '
                                   'folder holding them')
    return found


def discover_monusac(raw_dir: str, organs: Optional[Dict[str, str]] = None,
                     val_fraction: float = 0.2,
                     skipped: Optional[SkippedInputs] = None) -> List[MonusacImage]:
    """Every image (stem of a ``.svs`` or ``.xml``) with patient, organ and split.

    Args:
        raw_dir: The folder holding the two MoNuSAC folders.
        organs: ``{TCGA barcode: organ}`` (:func:`read_organs`).
        val_fraction: Training patients held out as ``val``, per organ.
        skipped: With it, slide folders not named by a TCGA barcode are listed
            there and left out; without it they raise.

    Raises:
        MissingDownloadError: neither folder exists or holds slide folders.
        BadDownloadError: one image name in two folders.
    """
    require_folder(raw_dir, ', '.join(MONUSAC_FOLDERS))
    organs, items, seen = organs or {}, [], {}
    for folder, split in _slide_folders(raw_dir):
        try:
            patient = patient_barcode(osp.basename(folder))
        except BadInputError as err:
            if skipped is None:
                raise BadInputError(f'{folder}: {err}') from None
            skipped.add(folder, err)
            continue
        stems = sorted({osp.splitext(n)[0] for n in os.listdir(folder)
                        if osp.splitext(n)[1].lower() in ('.svs', '.xml')})
        for stem in stems:
            if stem in seen:
                raise BadDownloadError(f'image {stem} is in the download twice ({seen[stem]} and '
                                       f'{folder}); keep one')
            seen[stem] = folder
            items.append(MonusacImage(stem, folder, patient, split,
                                      osp.join(folder, f'{stem}.svs'),
                                      osp.join(folder, f'{stem}.xml'),
                                      organs.get(patient, '')))
    by_organ: Dict[str, set] = {}
    for item in items:
        if item.split == 'train':
            by_organ.setdefault(item.organ, set()).add(item.patient)
    val = set().union(*(held_out(p, val_fraction, f'monusac:{organ}')
                        for organ, p in by_organ.items()))
    for item in items:
        if item.split == 'train' and item.patient in val:
            item.split = 'val'
    return items


def load_monusac(item: MonusacImage, base_mpp: Optional[float] = None) -> NucleusLabels:
    """Pixels (from the ``.svs``) and rasterised regions of one image."""
    with open_slide(item.svs, base_mpp) as reader:
        height, width = reader.shape
        image = reader.read(0, 0, width, height)
    instances, types, quirks = rasterise_regions(parse_monusac_xml(item.xml), (height, width),
                                                 item.xml)
    return NucleusLabels(image, instances, types, quirks)


def _nuclei_image(item: MonusacImage, base_mpp: Optional[float]) -> NucleiImage:
    for path, what in ((item.svs, 'pixels'), (item.xml, 'annotations')):
        if not osp.isfile(path):
            raise MissingInputError(f'{path} is missing ({item.name} has no {what}); '
                                    're-extract the download')
    with open_slide(item.svs, base_mpp) as reader:
        size, mpp = reader.shape, reader.require_mpp()
    return NucleiImage(
        name=item.name, size=size, mpp=mpp, load=partial(load_monusac, item, base_mpp),
        fields=dict(dataset='monusac', species='human', organ=item.organ, slide=item.name,
                    case=item.patient, split=item.split, fold='', origin='tcga',
                    patient=item.patient))


def monusac_images(raw_dir: str, organs: Optional[Dict[str, str]] = None,
                   val_fraction: float = 0.2, base_mpp: Optional[float] = None,
                   skipped: Optional[SkippedInputs] = None) -> List[NucleiImage]:
    """The download as :class:`NucleiImage` records (a missing file or an
    SVS without um/px raises, or with ``skipped`` is listed there)."""
    items = discover_monusac(raw_dir, organs, val_fraction, skipped)
    return build_sources(items, lambda item: _nuclei_image(item, base_mpp),
                         lambda item: item.svs, skipped)


def convert_monusac(raw_dir: str, out_dir: str, mpp: Optional[float] = None, tile: int = 256,
                    skip_bad: bool = False, workers: int = 1, val_fraction: float = 0.2,
                    organs_csv: Optional[str] = None,
                    base_mpp: Optional[float] = None) -> ConversionSummary:
    """Convert the whole download (layout: :mod:`.nuclei`).

    Args:
        raw_dir: The folder holding the two MoNuSAC folders.
        out_dir: Output dataset folder.
        mpp: Resample to this um/px (None: keep each image's own).
        tile: Tile side.
        skip_bad: List unusable images in ``skipped.csv`` and go on.
        workers: Images converted at once (processes).
        val_fraction: Training patients held out as ``val``, per organ.
        organs_csv: CSV ``patient,organ`` (:func:`read_organs`).
        base_mpp: um/px for SVS files whose metadata lacks it.
    """
    organs = read_organs(organs_csv) if organs_csv else None
    skipped = SkippedInputs() if skip_bad else None
    images = monusac_images(raw_dir, organs, val_fraction, base_mpp, skipped)
    return convert_nuclei(images, out_dir, desc='MoNuSAC', mpp=mpp, tile=tile, skipped=skipped,
                          workers=workers)
