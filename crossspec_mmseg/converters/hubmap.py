"""HuBMAP "Hacking the Kidney" (human PAS glomeruli, whole slides) -> tiles + manifest.

Reads the Kaggle download as it is: ``train/<id>.tiff`` (any TIFF layout, read
window by window), glomeruli from ``train.csv`` (column-major RLE), optional
cortex/medulla masks from ``train/<id>-anatomical-structure.json``, and the
patient of each slide from ``HuBMAP-20-dataset_information.csv`` (the
cross-validation group). Only training images have labels.

Split: the manifest's ``split`` column is ``val``/``test`` for the held-out
slides (:data:`HELD_OUT_SLIDES`, or a ``--splits`` CSV with ``id,split``) and
``train`` for the others, so configs select by split as for every dataset.
"""
from __future__ import annotations

import json
import os.path as osp
from typing import Dict, List, Mapping, Optional

import numpy as np

from ..slides import SlideReader, parse_rle, rle_decode_window
from .errors import BadDownloadError, BadInputError, MissingInputError, require_folder
from .raster import PolygonSet
from .tables import index_rows, read_table
from .tiling import (
    ConversionSummary,
    SkippedInputs,
    SourceImage,
    TilingConfig,
    build_sources,
    convert_sources,
)

__all__ = ['ANATOMY_CLASSES', 'HELD_OUT_SLIDES', 'load_features', 'read_info', 'read_splits',
           'convert_hubmap']

INFO_CSV = 'HuBMAP-20-dataset_information.csv'
#: Anatomy label of each QuPath class name (lower case); others are background.
ANATOMY_CLASSES = {'cortex': 1, 'medulla': 2, 'outer stripe': 2, 'inner medulla': 2,
                   'outer medulla': 2}
#: The glomeruli configs' held-out slides (whole slides, patients kept apart);
#: every other labelled slide is ``train``.
HELD_OUT_SLIDES = {'1e2425f28': 'val', 'afa5e8098': 'val',
                   'b9a3865fc': 'test', 'cb2d976f4': 'test'}
SPLITS = ('train', 'val', 'test')


def read_splits(path: str) -> Dict[str, str]:
    """``{slide id: split}`` from a CSV with columns ``id,split``.

    Raises:
        BadDownloadError: a missing column, an id given twice, or a split
            other than train/val/test (the message names the line).
    """
    rows = index_rows(path, read_table(path, ('id', 'split')), 'id', str.strip)
    splits = {}
    for slide, (line, row) in rows.items():
        split = row['split'].strip()
        if split not in SPLITS:
            raise BadDownloadError(f'{path}:{line}: split {split!r} of {slide} is not one of '
                                   f'{SPLITS}')
        splits[slide] = split
    return splits


def load_features(path: str) -> Dict[str, List[List[np.ndarray]]]:
    """Polygons of a QuPath GeoJSON-like export, grouped by lower-case class name.

    Accepts a list of features or a ``FeatureCollection``; ``MultiPolygon``
    becomes several polygons.

    Raises:
        BadInputError: a feature without coordinates, with non-finite values or
            an unsupported geometry (the message names file and feature index).
    """
    with open(path) as f:
        try:
            data = json.load(f)
        except json.JSONDecodeError as err:
            raise BadInputError(f'{path}: invalid JSON ({err}); re-export it from QuPath') from None
    features = data.get('features', []) if isinstance(data, dict) else data
    grouped: Dict[str, List[List[np.ndarray]]] = {}
    for i, feature in enumerate(features):
        where = f'{path}: feature {i}'
        geometry = (feature or {}).get('geometry') or {}
        kind, coords = geometry.get('type'), geometry.get('coordinates')
        if not coords:
            raise BadInputError(f'{where} has no geometry.coordinates; fix or delete that feature')
        if kind == 'Polygon':
            polygons = [coords]
        elif kind == 'MultiPolygon':
            polygons = coords
        else:
            raise BadInputError(f'{where}: unsupported geometry type {kind!r} '
                                '(Polygon or MultiPolygon)')
        props = feature.get('properties') or {}
        name = str((props.get('classification') or {}).get('name', '')).strip().lower()
        for polygon in polygons:
            try:
                rings = [np.asarray(ring, np.float64).reshape(-1, 2) for ring in polygon]
            except (ValueError, TypeError):
                raise BadInputError(f'{where}: coordinates are not [x, y] rings; fix or delete '
                                    'that feature') from None
            if any(not np.isfinite(r).all() or len(r) < 3 for r in rings):
                raise BadInputError(f'{where}: ring with fewer than 3 points or NaN/inf values; '
                                    'fix or delete that feature')
            grouped.setdefault(name, []).append(rings)
    return grouped


def read_info(raw_dir: str) -> Dict[str, Dict[str, str]]:
    """Rows of the dataset information CSV keyed by image id (empty if absent).

    Raises:
        BadDownloadError: the CSV lacks ``image_file`` or lists an image twice.
    """
    path = osp.join(raw_dir, INFO_CSV)
    if not osp.isfile(path):
        return {}
    rows = index_rows(path, read_table(path, ['image_file']), 'image_file',
                      lambda name: osp.splitext(name)[0])
    return {image_id: dict(row, line=line) for image_id, (line, row) in rows.items()}


def _read_encodings(raw_dir: str) -> Dict[str, str]:
    """``{id: encoding}`` from ``train.csv``; an id listed twice is an error."""
    path = osp.join(raw_dir, 'train.csv')
    rows = index_rows(path, read_table(path, ['id', 'encoding']), 'id')
    return {image_id: row['encoding'] for image_id, (_, row) in rows.items()}


def _check_size(tiff: str, shape, info: Optional[dict]) -> None:
    """The slide's pixels must have the size the information CSV records:
    RLE is decoded against it, so a transposed or re-exported slide would
    get its glomeruli in the wrong place without a word."""
    if not info or not info.get('width_pixels') or not info.get('height_pixels'):
        return
    try:
        expected = (int(float(info['height_pixels'])), int(float(info['width_pixels'])))
    except ValueError:
        raise BadInputError(f'{INFO_CSV} line {info["line"]}: width_pixels/height_pixels '
                            f'{info["width_pixels"]!r}/{info["height_pixels"]!r} are not '
                            'numbers; fix that row') from None
    if tuple(shape) != expected:
        transposed = ' (transposed?)' if tuple(shape) == expected[::-1] else ''
        raise BadInputError(f'{tiff}: slide is {shape[1]} x {shape[0]} px (width x height) but '
                            f'{INFO_CSV} line {info["line"]} says {expected[1]} x {expected[0]}'
                            f'{transposed}; its RLE would not fit: download the slide again')


def _anatomy_label(polygons: Dict[str, List[List[np.ndarray]]]):
    """Window function: cortex first, medulla classes painted over it."""
    layers = sorted(((ANATOMY_CLASSES[name], PolygonSet(polys))
                     for name, polys in polygons.items() if name in ANATOMY_CLASSES),
                    key=lambda layer: layer[0])

    def label(x, y, w, h):
        out = np.zeros((h, w), np.uint8)
        for value, polys in layers:
            polys.fill(out, x, y, value)
        return out
    return label


def _source(raw_dir: str, image_id: str, encoding: str, info: Optional[dict], split: str,
            anatomy: bool, base_mpp: Optional[float] = None) -> SourceImage:
    tiff = osp.join(raw_dir, 'train', f'{image_id}.tiff')
    if not osp.isfile(tiff):
        raise MissingInputError(f'train.csv id {image_id}: slide {tiff} is missing; '
                                'download it or remove the row')
    with SlideReader(tiff, base_mpp) as reader:
        shape, mpp = reader.shape, reader.mpp
    _check_size(tiff, shape, info)
    runs = parse_rle(encoding, shape, record=f'train.csv id {image_id}')
    labels = {'masks': lambda x, y, w, h: rle_decode_window(runs, shape, x, y, w, h)}
    if anatomy:
        path = osp.join(raw_dir, 'train', f'{image_id}-anatomical-structure.json')
        if not osp.isfile(path):
            raise MissingInputError(f'--anatomy: {path} is missing; download it or drop --anatomy')
        labels['masks_anatomy'] = _anatomy_label(load_features(path))
    patient = (info or {}).get('patient_number', '') or image_id
    return SourceImage(name=image_id, size=shape, open_reader=lambda: SlideReader(tiff),
                       labels=labels, mpp=mpp,
                       fields=dict(dataset='hubmap', species='human', organ='kidney',
                                   slide=image_id, case=f'patient{patient}', split=split))


def convert_hubmap(raw_dir: str, out_dir: str, scale: float = 1.0, tile: int = 512,
                   overlap: float = 0.5, anatomy: bool = False,
                   min_tissue: float = 0.05, skip_bad: bool = False,
                   splits: Optional[Mapping[str, str]] = None,
                   splits_csv: Optional[str] = None, mpp: Optional[float] = None,
                   base_mpp: Optional[float] = None, workers: int = 1) -> ConversionSummary:
    """Tile every labelled training slide.

    Args:
        raw_dir: The unpacked Kaggle download.
        out_dir: Output dataset folder.
        scale: Resize factor (0.4 brings human glomeruli to mouse size).
        tile: Output tile side.
        overlap: Window overlap fraction.
        anatomy: Also write ``masks_anatomy/`` (0 bg, 1 cortex, 2 medulla).
        min_tissue: Background test threshold; 0 keeps every tile.
        skip_bad: Record unusable slides in ``skipped.csv`` and go on.
        splits: ``{slide id: 'val' or 'test'}`` (others are ``train``);
            default :data:`HELD_OUT_SLIDES`. Every id must be in ``train.csv``.
        splits_csv: Or read them from a CSV (:func:`read_splits`).
        mpp: Target um/px of the tiles (replaces ``scale``, per slide).
        base_mpp: Level-0 um/px of every slide, overriding their metadata.
        workers: Slides converted at once (processes, one slide each); the
            output is the same whatever their number.
    """
    require_folder(raw_dir, 'train/, train.csv')
    encodings = _read_encodings(raw_dir)
    info = read_info(raw_dir)
    if splits_csv is not None:
        splits = read_splits(splits_csv)
    if splits is None:
        splits = {k: v for k, v in HELD_OUT_SLIDES.items() if k in encodings}
    unknown = sorted(set(splits) - set(encodings))
    if unknown:
        raise BadDownloadError(f'split table names slides not in train.csv: {unknown[:5]}')
    skipped = SkippedInputs() if skip_bad else None
    sources = build_sources(
        sorted(encodings.items()),
        lambda row: _source(raw_dir, row[0], row[1] or '', info.get(row[0]),
                            splits.get(row[0], 'train'), anatomy, base_mpp),
        lambda row: f'train.csv id {row[0]}', skipped)
    tiling = TilingConfig(tile=tile, overlap=overlap, scale=scale, min_tissue=min_tissue,
                          mpp=mpp)
    return convert_sources(sources, out_dir, tiling, desc='HuBMAP', skipped=skipped,
                           workers=workers)
