"""Small synthetic copies of the three raw downloads, in their exact formats.

Used by the tests and the demo so the real converters run end to end without
the real data (see the dataset spec for the formats being imitated).
"""
from __future__ import annotations

import csv
import json
import os
import os.path as osp
import sqlite3
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import tifffile

from ..converters.orbit_blob import decode_orbit_blob
from ..slides import rle_encode
from .synthetic import SPECIES_STYLES, render_tissue

__all__ = ['write_nuinsseg_raw', 'write_hubmap_raw', 'write_orbit_raw', 'HUBMAP_LAYOUTS',
           'ORBIT_BLOBS']

#: The Java-written fixture blobs (``tests/data/orbit/blobs/<name>.bin`` in the
#: repository): (annotation id, slide id, blob name).
ORBIT_BLOBS = [(1, 4711, 'glom_a'), (2, 4711, 'glom_b'), (3, 4711, 'roi_1'),
               (4, 4711, 'excl_1'), (5, 4711, 'glom_old'), (7, 4712, 'glom_c')]
#: TIFF layouts seen in the HuBMAP download.
HUBMAP_LAYOUTS = ('YXS', 'SYX', '11SYX', 'pages')


def _cv2_write(path: str, image: np.ndarray) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    data = image[..., ::-1] if image.ndim == 3 and image.shape[2] == 3 else image
    if image.ndim == 3 and image.shape[2] == 4:
        data = image[..., [2, 1, 0, 3]]
    if not cv2.imwrite(path, data):
        raise OSError(f'could not write {path}')


def write_nuinsseg_raw(root: str, folders: Dict[str, int] | None = None, size: int = 64,
                       seed: int = 0) -> List[str]:
    """NuInsSeg layout: ``<species> <organ>/tissue images/<stem>.png`` and friends.

    Every third image gets a vague-area mask, the first image is RGBA (as
    ``human_liver_31.png`` is), stems are not zero-padded.

    Returns:
        The folder names written.
    """
    folders = folders or {'human kidney': 5, 'mouse kidney': 8, 'human spleen': 4,
                          'mouse spleen': 3, 'mouse muscle_tibia': 3}
    rng = np.random.default_rng(seed)
    first = True
    for folder, count in folders.items():
        species, organ = folder.split(' ', 1)
        base = osp.join(root, folder)
        for n in range(1, count + 1):
            stem = f'{species}_{organ.replace(" ", "_")}_{n}'
            image, instances = render_tissue(rng, SPECIES_STYLES[species], size)
            if first:  # one RGBA image, as in the real archive
                image = np.dstack([image, np.full(image.shape[:2], 255, np.uint8)])
                first = False
            _cv2_write(osp.join(base, 'tissue images', f'{stem}.png'), image)
            os.makedirs(osp.join(base, 'label masks modify'), exist_ok=True)
            tifffile.imwrite(osp.join(base, 'label masks modify', f'{stem}.tif'), instances)
            os.makedirs(osp.join(base, 'label masks'), exist_ok=True)
            tifffile.imwrite(osp.join(base, 'label masks', f'{stem}.tif'), instances * 2)
            _cv2_write(osp.join(base, 'mask binary', f'{stem}.png'),
                       (instances > 0).astype(np.uint8) * 255)
            if n % 3 == 0:
                vague = np.zeros((size, size), np.uint8)
                cv2.circle(vague, tuple(int(v) for v in rng.integers(0, size, 2)), size // 6,
                           255, -1)
                _cv2_write(osp.join(base, 'vague areas', 'mask binary', f'{stem}.png'), vague)
    return list(folders)


def _write_tiff(path: str, image: np.ndarray, layout: str) -> None:
    """Write RGB ``image`` in one of :data:`HUBMAP_LAYOUTS`."""
    os.makedirs(osp.dirname(path), exist_ok=True)
    planar = np.moveaxis(image, 2, 0)
    if layout == 'YXS':
        tifffile.imwrite(path, image, photometric='rgb', tile=(64, 64))
    elif layout == 'SYX':
        tifffile.imwrite(path, planar, photometric='rgb', planarconfig='separate')
    elif layout == '11SYX':
        tifffile.imwrite(path, planar[None, None], photometric='rgb', planarconfig='separate')
    elif layout == 'pages':
        with tifffile.TiffWriter(path) as tif:
            for channel in planar:
                tif.write(channel, photometric='minisblack', metadata=None)
    else:
        raise ValueError(f'unknown layout {layout!r}; one of {HUBMAP_LAYOUTS}')


def _kidney_slide(rng: np.random.Generator, shape: Tuple[int, int], n_glomeruli: int,
                  radius: Tuple[int, int]):
    """PAS-like slide: white background margin, tissue band, round glomeruli.

    Returns image, glomerulus polygons, cortex polygon, medulla polygon.
    """
    h, w = shape
    image = np.full((h, w, 3), 245, np.uint8)
    tissue = np.array([[w * 0.05, h * 0.1], [w * 0.95, h * 0.05], [w * 0.9, h * 0.9],
                       [w * 0.1, h * 0.95]], np.float64)
    split = w * 0.6
    cortex = np.array([tissue[0], [split, h * 0.075], [split, h * 0.925], tissue[3]])
    medulla = np.array([[split, h * 0.075], tissue[1], tissue[2], [split, h * 0.925]])
    cv2.fillPoly(image, [np.round(cortex).astype(np.int32)], (205, 150, 190))
    cv2.fillPoly(image, [np.round(medulla).astype(np.int32)], (220, 170, 200))
    glomeruli = []
    for _ in range(n_glomeruli):
        r = rng.uniform(*radius)
        cx, cy = rng.uniform(w * 0.12 + r, split - r), rng.uniform(h * 0.15 + r, h * 0.85 - r)
        angles = np.linspace(0, 2 * np.pi, 16, endpoint=False)
        poly = np.stack([cx + r * np.cos(angles), cy + r * np.sin(angles)], 1)
        cv2.fillPoly(image, [np.round(poly).astype(np.int32)], (150, 60, 130))
        glomeruli.append(poly)
    noise = rng.normal(0, 5, image.shape)
    return np.clip(image + noise, 0, 255).astype(np.uint8), glomeruli, cortex, medulla


def _feature(poly: np.ndarray, name: str) -> dict:
    ring = np.round(poly, 1).tolist()
    return {'type': 'Feature', 'id': 'PathAnnotationObject',
            'geometry': {'type': 'Polygon', 'coordinates': [ring + [ring[0]]]},
            'properties': {'classification': {'name': name, 'colorRGB': -3140401},
                           'isLocked': False, 'measurements': []}}


def write_hubmap_raw(root: str, n_slides: int = 4, shape: Tuple[int, int] = (700, 900),
                     layouts: Sequence[str] = HUBMAP_LAYOUTS, seed: int = 0,
                     slide_ids: Optional[Sequence[str]] = None) -> List[str]:
    """HuBMAP layout: ``train/<id>.tiff`` (+ JSONs), ``train.csv``, info CSV.

    Slide ``i`` uses ``layouts[i % len(layouts)]``; two slides share a patient.
    The RLE in ``train.csv`` is the rasterised glomerulus polygons. ``slide_ids``
    fixes the slide ids (default: random 9-hex-digit ids).

    Returns:
        The image ids.
    """
    rng = np.random.default_rng(seed)
    ids, rle_rows, info_rows = [], [], []
    for i in range(len(slide_ids) if slide_ids else n_slides):
        image_id = slide_ids[i] if slide_ids else f'{rng.integers(0, 16 ** 9):09x}'
        image, glomeruli, cortex, medulla = _kidney_slide(rng, shape, 6, (18, 30))
        _write_tiff(osp.join(root, 'train', f'{image_id}.tiff'), image,
                    layouts[i % len(layouts)])
        mask = np.zeros(shape, np.uint8)
        cv2.fillPoly(mask, [np.floor(p + 0.5).astype(np.int32) for p in glomeruli], 1)
        rle_rows.append((image_id, rle_encode(mask)))
        with open(osp.join(root, 'train', f'{image_id}.json'), 'w') as f:
            json.dump([_feature(p, 'glomerulus') for p in glomeruli], f)
        anatomy = [_feature(cortex, 'Cortex'), _feature(medulla, 'Medulla')]
        with open(osp.join(root, 'train', f'{image_id}-anatomical-structure.json'), 'w') as f:
            json.dump(anatomy, f)
        info_rows.append([f'{image_id}.tiff', shape[1], shape[0],
                          f'{image_id}-anatomical-structure.json', f'{image_id}.json',
                          67000 + i // 2, 'White', 'Not Hispanic or Latino', 'Male', 58,
                          80, 175, 26.1, 'Right', 60.0, 40.0])
        ids.append(image_id)
    with open(osp.join(root, 'train.csv'), 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['id', 'encoding'])
        writer.writerows(rle_rows)
    with open(osp.join(root, 'HuBMAP-20-dataset_information.csv'), 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['image_file', 'width_pixels', 'height_pixels',
                         'anatomical_structures_segmention_file',
                         'glomerulus_segmentation_file', 'patient_number', 'race', 'ethnicity',
                         'sex', 'age', 'weight_kilograms', 'height_centimeters', 'bmi_kg/m^2',
                         'laterality', 'percent_cortex', 'percent_medulla'])
        writer.writerows(info_rows)
    with open(osp.join(root, 'sample_submission.csv'), 'w') as f:
        f.write('id,predicted\n')
    return ids


def write_orbit_raw(root: str, blobs_dir: str, shape: Tuple[int, int] = (240, 320),
                    seed: int = 0) -> str:
    """Orbit layout: ``train/4711.tiff``, ``test/4712.tiff`` and an ``orbit.db``
    whose blobs are Java-written fixtures (:data:`ORBIT_BLOBS`) read from
    ``blobs_dir`` (``tests/data/orbit/blobs`` in the repository; Orbit blobs
    cannot be written without Java, so they are test data, not shipped).

    Glomeruli are painted into the slides where their polygons are. Returns
    the path of a slide table (CSV) for the two slide ids (4711 mouse, 4712 rat).
    """
    rng = np.random.default_rng(seed)
    blobs = {}
    for _, _, name in ORBIT_BLOBS:
        with open(osp.join(blobs_dir, f'{name}.bin'), 'rb') as f:
            blobs[name] = f.read()
    glomeruli = [(slide, decode_orbit_blob(blobs[name])) for _, slide, name in ORBIT_BLOBS]
    for slide, split in ((4711, 'train'), (4712, 'test')):
        image = np.clip(rng.normal((200, 120, 160), 8, shape + (3,)), 0, 255).astype(np.uint8)
        for blob_slide, annotation in glomeruli:
            if blob_slide == slide and annotation.sub_type == 0:
                cv2.fillPoly(image, [np.floor(annotation.points + 0.5).astype(np.int32)],
                             (110, 40, 90))
        os.makedirs(osp.join(root, split), exist_ok=True)
        tifffile.imwrite(osp.join(root, split, f'{slide}.tiff'), image, photometric='rgb',
                         tile=(64, 64))
    db = osp.join(root, 'orbit.db')
    if osp.exists(db):
        os.remove(db)
    con = sqlite3.connect(db)
    con.execute('CREATE TABLE RAW_DATA_FILE (RAW_DATA_FILE_ID INTEGER PRIMARY KEY, '
                'RAW_DATA_ID INTEGER, BIOSAMPLE_ID INTEGER, PATH TEXT, FILENAME TEXT, '
                'FILESIZE INTEGER, FILETYPE TEXT, IMAGE_THN_ID INTEGER, IMAGE_PREVIEW_ID '
                'INTEGER, FLAGS INTEGER, REFERENCE_DATE DATE, MODIFY_DATE DATE, USER_ID TEXT, '
                'MD5 TEXT, SERIES INTEGER)')
    con.execute('CREATE TABLE RAW_ANNOTATION (RAW_ANNOTATION_ID INTEGER PRIMARY KEY, '
                'RAW_DATA_FILE_ID INTEGER, RAW_ANNOTATION_TYPE INTEGER, DESCRIPTION TEXT, '
                'DATA BLOB, USER_ID TEXT, MODIFY_DATE DATE)')
    for slide in (4711, 4712):
        con.execute('INSERT INTO RAW_DATA_FILE (RAW_DATA_FILE_ID, FILENAME, FILETYPE) '
                    'VALUES (?, ?, ?)', (slide, f'{slide}.tiff', 'tiff'))
    for annotation_id, slide, name in ORBIT_BLOBS:
        con.execute('INSERT INTO RAW_ANNOTATION VALUES (?, ?, 0, ?, ?, ?, ?)',
                    (annotation_id, slide, name, blobs[name], 'demo', '2020-01-01'))
    con.execute('INSERT INTO RAW_ANNOTATION VALUES (6, 4711, 7, ?, ?, ?, ?)',
                ('model', b'\x00not a shape', 'demo', '2020-01-01'))
    con.commit()
    con.close()
    groups = osp.join(root, 'groups.csv')
    with open(groups, 'w') as f:
        f.write('raw_data_file_id,stain,species,group\n4711,H&E,mouse,H_E_Mouse_G1\n'
                '4712,PAS,rat,PAS_Rat\n')
    return groups
