"""A tiny MoNuSAC download in its distributed layout, with bad inputs on demand.

``MoNuSAC_images_and_annotations/<TCGA slide>/<slide>_<k>.svs|.tif|.xml`` and
``MoNuSAC Testing Data and Annotations/...``: Aperio SVS (``MPP = 0.252``),
RGBA ``.tif`` copies (some missing in the test set, as in the real one) and
ImageScope XML (one ``Annotation`` per class, ``Regions/Region/Vertices``,
float vertex strings in level-0 pixels). Polygons overlap across
annotations, and test images carry ``Ambiguous`` regions.
"""
from __future__ import annotations

import os
import os.path as osp
import xml.etree.ElementTree as ET
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import tifffile

from ..nuclei_appearance import dataset_labels
from ..pyramids import write_pyramid
from ..synthetic import SPECIES_STYLES, render_tissue

__all__ = ['MONUSAC_FAULTS', 'MONUSAC_MPP', 'TEST_FOLDER', 'TRAIN_FOLDER', 'write_monusac_raw']

TRAIN_FOLDER = 'MoNuSAC_images_and_annotations'
TEST_FOLDER = 'MoNuSAC Testing Data and Annotations'
MONUSAC_MPP = 0.252
CLASS_NAMES = ('Epithelial', 'Lymphocyte', 'Neutrophil', 'Macrophage')
#: Faults :func:`write_monusac_raw` can put into one image (name -> fault).
#: ``crosses_border`` (a clipped region) and ``lower_case_class`` are not errors.
MONUSAC_FAULTS = ('non_numeric_vertex', 'outside', 'unknown_class', 'missing_svs',
                  'missing_xml', 'unreadable_xml', 'no_mpp', 'crosses_border',
                  'lower_case_class')
_HEADERS = (('9999', 'Region'), ('9997', 'Length'), ('9996', 'Area'), ('9998', 'Text'),
            ('1', 'Description'))

Regions = Dict[str, List[np.ndarray]]  # class name -> polygons (K x 2, x y), in file order


def _ellipse(centre: Tuple[float, float], radii: Tuple[float, float], angle: float,
             points: int = 12) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, points, endpoint=False)
    x, y = radii[0] * np.cos(t), radii[1] * np.sin(t)
    c, s = np.cos(angle), np.sin(angle)
    return np.round(np.stack([centre[0] + c * x - s * y, centre[1] + s * x + c * y], 1), 4)


def _regions(rng: np.random.Generator, shape: Tuple[int, int], test: bool) -> Regions:
    """Nuclei by class; one lymphocyte overlaps an epithelial nucleus (a later
    annotation overwrites an earlier one), test images get Ambiguous ones."""
    height, width = shape
    regions: Regions = {name: [] for name in CLASS_NAMES + (('Ambiguous',) if test else ())}

    def nucleus(centre=None):
        r = rng.uniform(4, 7)
        if centre is None:
            centre = rng.uniform(r + 1, width - r - 1), rng.uniform(r + 1, height - r - 1)
        return _ellipse(centre, (r, r * rng.uniform(0.6, 1)), rng.uniform(0, np.pi))

    for _ in range(int(rng.integers(5, 9))):
        regions[CLASS_NAMES[int(rng.integers(0, 4))]].append(nucleus())
    first = nucleus()
    regions['Epithelial'].insert(0, first)
    regions['Lymphocyte'].append(nucleus(first.mean(0) + (3, 0)))
    if test:
        regions['Ambiguous'].append(nucleus(regions['Epithelial'][-1].mean(0) + (0, 3)))
    return regions


def _xml(regions: Regions, mpp: float) -> bytes:
    root = ET.Element('Annotations', MicronsPerPixel=f'{mpp:.6f}')
    for a, (name, polygons) in enumerate(regions.items(), start=1):
        ann = ET.SubElement(root, 'Annotation', Id=str(a), Name='', ReadOnly='0', Type='4',
                            LineColor='65280', Visible='1', Selected='0', MarkupImagePath='',
                            MacroName='')
        ET.SubElement(ET.SubElement(ann, 'Attributes'), 'Attribute', Name=name, Id='0',
                      Value='')
        container = ET.SubElement(ann, 'Regions')
        headers = ET.SubElement(container, 'RegionAttributeHeaders')
        for header_id, header in _HEADERS:
            ET.SubElement(headers, 'AttributeHeader', Id=header_id, Name=header,
                          ColumnWidth='-1')
        for r, points in enumerate(polygons, start=1):
            region = ET.SubElement(container, 'Region', Id=str(r), Type='0', Zoom='1',
                                   Selected='0', ImageLocation='', ImageFocus='-1', Text='',
                                   NegativeROA='0', InputRegionId='0', Analyze='1',
                                   DisplayId=str(r))
            ET.SubElement(region, 'Attributes')
            vertices = ET.SubElement(region, 'Vertices')
            for x, y in points:
                ET.SubElement(vertices, 'Vertex', X=f'{x:.4f}', Y=f'{y:.4f}', Z='0')
        ET.SubElement(ann, 'Plots')
    return ET.tostring(root, encoding='utf-8', xml_declaration=True)


def _apply_fault(fault: str, regions: Regions, shape: Tuple[int, int]) -> Regions:
    height, width = shape
    if fault == 'outside':
        regions['Neutrophil'].append(_ellipse((width + 40, height / 2), (5, 4), 0))
    elif fault == 'crosses_border':
        regions['Macrophage'].append(_ellipse((1.5, height / 2), (6, 5), 0))
    elif fault == 'unknown_class':
        regions = {('Plasma' if k == 'Neutrophil' else k): v for k, v in regions.items()}
    elif fault == 'lower_case_class':
        regions = {k.lower(): v for k, v in regions.items()}
    return regions


def _image(rng: np.random.Generator, shape: Tuple[int, int], regions: Regions) -> np.ndarray:
    image, _ = render_tissue(rng, SPECIES_STYLES['human'], max(shape))
    image = np.ascontiguousarray(image[:shape[0], :shape[1]])
    for polygons in regions.values():
        for points in polygons:
            cv2.fillPoly(image, [np.round(points).astype(np.int32)], (70, 40, 120))
    return image


def _slide_folders(prefix: int, count: int) -> List[str]:
    """TCGA slide folder names; the first patient has two slides (DX1, DX2)."""
    folders = [f'TCGA-{prefix + i:02d}-{1000 + i:04d}-01Z-00-DX1' for i in range(count)]
    return folders[:1] + [folders[0][:-1] + '2'] + folders[1:] if count else folders


def write_monusac_raw(root: str, train_patients: int = 4, test_patients: int = 2,
                      images_per_slide: int = 2, shape: Tuple[int, int] = (80, 96),
                      seed: int = 0, faults: Optional[Dict[str, str]] = None,
                      splits: Sequence[str] = ('train', 'test'),
                      appearance=None) -> Dict[str, str]:
    """Write the download under ``root``.

    Args:
        root: Output folder (holding the two MoNuSAC folders).
        train_patients, test_patients: Patients per folder; the first of
            each has two slide folders (``...-DX1`` and ``...-DX2``).
        images_per_slide: Images ``<slide>_001`` ... per slide folder.
        shape: ``(height, width)`` of every image.
        seed: Random seed.
        faults: ``{image name: fault}``, faults from :data:`MONUSAC_FAULTS`.
        splits: Which of the two folders to write.
        appearance: A :class:`~crossspec_mmseg.demo.nuclei_appearance.NucleiAppearance`:
            the nuclei are its hidden types, drawn at MoNuSAC's um/px; the
            outlines of those MoNuSAC labels are its regions (the others stay
            unannotated, in its background), and in test images one labelled
            nucleus is an ``Ambiguous`` region instead.

    Returns:
        ``{image name: 'train' or 'test'}``.
    """
    faults = dict(faults or {})
    unknown = sorted(set(faults.values()) - set(MONUSAC_FAULTS))
    if unknown:
        raise ValueError(f'unknown faults {unknown}; one of {MONUSAC_FAULTS}')
    rng = np.random.default_rng(seed)
    written = {}
    plan = [('train', TRAIN_FOLDER, 10, train_patients), ('test', TEST_FOLDER, 60, test_patients)]
    for split, top, prefix, patients in plan:
        if split not in splits:
            continue
        for slide in _slide_folders(prefix, patients):
            folder = osp.join(root, top, slide)
            os.makedirs(folder, exist_ok=True)
            for k in range(1, images_per_slide + 1):
                name = f'{slide}_{k:03d}'
                fault = faults.pop(name, '')
                _write_image(osp.join(folder, name), rng, shape, split == 'test', fault,
                             copy_tif=split == 'train' or k < images_per_slide,
                             appearance=appearance)
                written[name] = split
    if faults:
        raise ValueError(f'faults for images not written: {sorted(faults)}')
    return written


def _drawn_regions(rng: np.random.Generator, shape: Tuple[int, int], test: bool,
                   appearance) -> Tuple[Regions, np.ndarray]:
    """``appearance``'s nuclei as regions by MoNuSAC class, and its image."""
    drawn = appearance.render(rng, shape, MONUSAC_MPP)
    label_of = dataset_labels('monusac')
    regions: Regions = {name: [] for name in CLASS_NAMES + (('Ambiguous',) if test else ())}
    labelled = [k for k, t in enumerate(drawn.types) if label_of[t]]
    unsure = int(rng.choice(labelled)) if test and labelled else -1
    for k, (points, kind) in enumerate(zip(drawn.polygons, drawn.types)):
        if k == unsure:
            regions['Ambiguous'].append(points)
        elif label_of[kind]:
            regions[CLASS_NAMES[label_of[kind] - 1]].append(points)
    return regions, drawn.image


def _write_image(stem: str, rng: np.random.Generator, shape: Tuple[int, int], test: bool,
                 fault: str, copy_tif: bool, appearance=None) -> None:
    """``stem.svs``, ``stem.xml`` and (``copy_tif``) ``stem.tif`` of one image."""
    if appearance is None:
        regions = _apply_fault(fault, _regions(rng, shape, test), shape)
        image = _image(rng, shape, regions)
    else:
        regions, image = _drawn_regions(rng, shape, test, appearance)
        regions = _apply_fault(fault, regions, shape)
    if fault != 'missing_svs':
        write_pyramid(f'{stem}.svs', image, 'svs', None if fault == 'no_mpp' else MONUSAC_MPP,
                      downsamples=(1,), tile=64)
    if copy_tif:
        tifffile.imwrite(f'{stem}.tif', np.dstack([image, np.full(shape, 255, np.uint8)]))
    data = _xml(regions, MONUSAC_MPP)
    if fault == 'non_numeric_vertex':
        first = data.index(b'X="') + 3
        data = data[:first] + b'12,5' + data[data.index(b'"', first):]
    if fault == 'unreadable_xml':
        data = data[:len(data) // 2]
    if fault != 'missing_xml':
        with open(f'{stem}.xml', 'wb') as f:
            f.write(data)
