"""Orbit mouse/rat glomeruli whole slides (Dryad) -> tiles + manifest.

Slides are ``train/<id>.tiff`` and ``test/<id>.tiff`` (the folders are the
official split); annotations live in the SQLite ``orbit.db``
(``RAW_ANNOTATION`` rows of type 0 joined to ``RAW_DATA_FILE``), matched to a
slide by ``FILENAME`` stem or by ``RAW_DATA_FILE_ID`` (unconfirmed which holds
for every file: both are tried). Species and stain come from the slide table
published with the dataset and shipped with the package
(``resources/orbit_groups.csv``: ``raw_data_file_id,stain,species,group``, its
``group`` a stain+species cohort such as ``FastRed_Mouse``).

Mask: glomeruli (subType 0) = 1; outside every ROI (when the slide has ROIs)
or inside an exclusion = 255; otherwise 0.
"""
from __future__ import annotations

import logging
import os
import os.path as osp
import sqlite3
import warnings
from collections import defaultdict
from typing import Dict, List, Optional

import numpy as np

from ..slides import SlideReader
from .errors import BadDownloadError, BadInputError, MissingDownloadError, require_folder
from .orbit_blob import (
    SUBTYPE_EXCLUSION,
    SUBTYPE_NORMAL,
    SUBTYPE_ROI,
    OrbitBlobError,
    OrbitShape,
    decode_orbit_blob,
)
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

__all__ = ['SLIDE_TABLE_CSV', 'read_orbit_db', 'slide_claims', 'match_annotations',
           'slide_errors', 'read_slide_table', 'orbit_label_fn', 'convert_orbit']

logger = logging.getLogger(__name__)
#: The published slide table (file name as in the dataset's documentation).
SLIDE_TABLE_CSV = osp.join(osp.dirname(osp.dirname(__file__)), 'resources', 'orbit_groups.csv')
SPLITS = ('train', 'test')


def read_orbit_db(path: str, skip_bad: bool = False) -> Dict[str, dict]:
    """Image annotations per ``RAW_DATA_FILE_ID``, read from a read-only connection.

    Args:
        path: ``orbit.db``.
        skip_bad: Record an undecodable blob as the file's ``'error'``
            instead of raising (its slide is then skipped as a whole).

    Returns:
        ``{file_id: {'filename': stem or '', 'shapes': [OrbitShape, ...]}}``.

    Raises:
        MissingDownloadError: no such file.
        BadInputError: not SQLite, or not an Orbit database.
        OrbitBlobError: an undecodable blob (names the annotation id).
    """
    if not osp.isfile(path):
        raise MissingDownloadError(f'orbit.db not found: {path}; it comes with the Dryad '
                                   'download (or pass --db PATH)')
    try:
        con = sqlite3.connect(f'file:{osp.abspath(path)}?mode=ro', uri=True)
        try:
            tables = {r[0] for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type='table'")}
            missing = {'RAW_ANNOTATION', 'RAW_DATA_FILE'} - tables
            if missing:
                raise BadInputError(f'{path}: not an Orbit database, tables {sorted(missing)} '
                                 f'missing (found {sorted(tables)})')
            rows = con.execute(
                'SELECT a.RAW_ANNOTATION_ID, a.RAW_DATA_FILE_ID, f.FILENAME, a.DATA '
                'FROM RAW_ANNOTATION a LEFT JOIN RAW_DATA_FILE f '
                'ON a.RAW_DATA_FILE_ID = f.RAW_DATA_FILE_ID '
                'WHERE a.RAW_ANNOTATION_TYPE = 0 ORDER BY a.RAW_ANNOTATION_ID').fetchall()
        finally:
            con.close()
    except sqlite3.DatabaseError as err:
        raise BadInputError(f'{path}: not a readable SQLite database ({err}); download '
                            'orbit.db again') from None
    files: Dict[str, dict] = {}
    for annotation_id, file_id, filename, data in rows:
        entry = files.setdefault(str(file_id), dict(
            filename=osp.splitext(osp.basename(str(filename)))[0] if filename else '',
            shapes=[]))
        try:
            shape = decode_orbit_blob(data, record=f'{path} RAW_ANNOTATION_ID {annotation_id}')
        except OrbitBlobError as err:
            if not skip_bad:
                raise
            entry.setdefault('error', err)
            continue
        if shape is None:
            logger.warning('%s RAW_ANNOTATION_ID %s: arc shape skipped', path, annotation_id)
        else:
            entry['shapes'].append(shape)
    return files


def slide_claims(files: Dict[str, dict], stems: List[str]) -> Dict[str, List[str]]:
    """``RAW_DATA_FILE`` ids per slide stem, matching by file id first, then by
    FILENAME stem (unconfirmed which holds for every file: both are tried).

    Raises:
        BadInputError: annotations whose slide is not among ``stems``.
    """
    stems_set, claims, orphans = set(stems), defaultdict(list), []
    for file_id, entry in files.items():
        stem = file_id if file_id in stems_set else entry['filename']
        if stem in stems_set:
            claims[stem].append(file_id)
        else:
            orphans.append(f'{file_id} ({entry["filename"] or "no RAW_DATA_FILE row"})')
    if orphans:
        raise BadInputError(f'orbit.db annotates slides that are not in the download: '
                            f'{orphans[:10]}; download them into train/ or test/')
    return dict(claims)


def match_annotations(files: Dict[str, dict], stems: List[str]) -> Dict[str, List[OrbitShape]]:
    """Shapes per slide stem (see :func:`slide_claims` for the matching)."""
    return _shapes(files, slide_claims(files, stems))


def _shapes(files: Dict[str, dict], claims: Dict[str, List[str]]) -> Dict[str, List[OrbitShape]]:
    return {stem: [shape for i in ids for shape in files[i]['shapes']]
            for stem, ids in claims.items()}


def slide_errors(files: Dict[str, dict], claims: Dict[str, List[str]]
                 ) -> Dict[str, BadInputError]:
    """Per slide, why it cannot be converted: two ``RAW_DATA_FILE`` records claim
    it (their annotations would be merged without a word: the error names both),
    or one of its blobs could not be decoded (``read_orbit_db(skip_bad=True)``)."""
    errors = {}
    for stem, ids in claims.items():
        if len(ids) > 1:
            errors[stem] = BadInputError(
                f'orbit.db: slide {stem} is claimed by RAW_DATA_FILE_IDs {sorted(ids)} (by id '
                'or FILENAME); their annotations would be merged: keep one record for the slide')
        else:
            bad = [files[i]['error'] for i in ids if 'error' in files[i]]
            if bad:
                errors[stem] = bad[0]
    return errors


def _check_extent(path: str, shapes: List[OrbitShape], size) -> None:
    """Annotations must overlap their slide: one wholly outside it means the
    record belongs to another slide or its scale is wrong."""
    height, width = size
    for shape in shapes:
        x0, y0 = shape.points.min(axis=0)
        x1, y1 = shape.points.max(axis=0)
        if x0 >= width or y0 >= height or x1 <= 0 or y1 <= 0:
            raise BadInputError(
                f'{path}: an annotation (sub-type {shape.sub_type}, x {x0:.0f}-{x1:.0f}, y '
                f'{y0:.0f}-{y1:.0f}) lies outside the {width} x {height} px slide: is the '
                'orbit.db record for another slide, or its scale wrong?')


def read_slide_table(path: str = SLIDE_TABLE_CSV) -> Dict[str, Dict[str, str]]:
    """``raw_data_file_id -> {stain, species, group}`` from a slide table.

    Raises:
        BadDownloadError: missing columns, or a slide id listed twice.
    """
    rows = index_rows(path, read_table(path, ['raw_data_file_id', 'species']),
                      'raw_data_file_id')
    return {slide: row for slide, (_, row) in rows.items()}


def orbit_label_fn(shapes: List[OrbitShape]):
    """Window function painting ROI, glomeruli and exclusions in that order."""
    by_type = defaultdict(list)
    for shape in shapes:
        by_type[shape.sub_type].append([shape.points])
    rois = PolygonSet(by_type[SUBTYPE_ROI])
    glomeruli = PolygonSet(by_type[SUBTYPE_NORMAL])
    exclusions = PolygonSet(by_type[SUBTYPE_EXCLUSION])

    def label(x, y, w, h):
        out = np.full((h, w), 255 if len(rois) else 0, np.uint8)
        rois.fill(out, x, y, 0)
        glomeruli.fill(out, x, y, 1)
        exclusions.fill(out, x, y, 255)
        return out
    return label


def _slides(raw_dir: str) -> List[tuple]:
    require_folder(raw_dir, 'train/, test/, orbit.db')
    found, seen = [], {}
    for split in SPLITS:
        folder = osp.join(raw_dir, split)
        if osp.isdir(folder):
            for name in sorted(os.listdir(folder)):
                if not name.lower().endswith(('.tif', '.tiff')):
                    continue
                path, stem = osp.join(folder, name), osp.splitext(name)[0]
                if stem in seen:
                    raise BadDownloadError(f'slide {stem} is in the download twice ({seen[stem]} '
                                           f'and {path}); keep one (the folder is its split)')
                seen[stem] = path
                found.append((split, path))
    if not found:
        raise MissingDownloadError(f'{raw_dir}: no slides in train/ or test/ (*.tiff)')
    return found


def convert_orbit(raw_dir: str, out_dir: str, db: Optional[str] = None,
                  slide_table: str = SLIDE_TABLE_CSV, scale: float = 1.0, tile: int = 512,
                  overlap: float = 0.5, min_tissue: float = 0.05, skip_bad: bool = False,
                  mpp: Optional[float] = None, base_mpp: Optional[float] = None,
                  groups: Optional[str] = None, workers: int = 1) -> ConversionSummary:
    """Tile every slide with its glomerulus mask.

    Args:
        raw_dir: Folder with ``train/``, ``test/`` and (by default) ``orbit.db``.
        out_dir: Output dataset folder.
        db: Path of ``orbit.db`` (default ``raw_dir/orbit.db``).
        slide_table: Slide id -> species/stain CSV (default: the shipped one).
        scale, tile, overlap, min_tissue: Tiling (see :class:`TilingConfig`).
        skip_bad: Record unusable slides (unreadable TIFF, undecodable
            annotation, no slide-table row) in ``skipped.csv`` and go on.
        mpp: Target um/px of the tiles (replaces ``scale``, per slide).
        base_mpp: Level-0 um/px of every slide, overriding their metadata.
        groups: Deprecated name of ``slide_table`` (kept for one release).
        workers: Slides converted at once (processes, one slide each); the
            output is the same whatever their number.

    Raises:
        BadDownloadError: no such folder or orbit.db, a slide given twice,
            a slide table without its columns or with a slide twice.
        BadInputError: annotations for slides that are not in the download;
            per slide (skipped with ``skip_bad``): unreadable TIFF,
            undecodable annotation, no slide-table row, two records for the
            slide, annotations outside it.
    """
    if groups is not None:
        warnings.warn('convert_orbit(groups=...) is deprecated: use slide_table=...',
                      DeprecationWarning, stacklevel=2)
        slide_table = groups
    slides = _slides(raw_dir)
    stems = [osp.splitext(osp.basename(p))[0] for _, p in slides]
    files = read_orbit_db(db or osp.join(raw_dir, 'orbit.db'), skip_bad)
    claims = slide_claims(files, stems)
    annotations, errors = _shapes(files, claims), slide_errors(files, claims)
    table = read_slide_table(slide_table)

    def make_source(slide):
        split, path = slide
        stem = osp.splitext(osp.basename(path))[0]
        if stem in errors:
            raise errors[stem]
        if stem not in table:
            raise BadInputError(f'{path}: slide {stem} is not in the slide table {slide_table}; '
                                'add a row (raw_data_file_id,stain,species,group) or pass '
                                '--slide-table')
        meta = table[stem]
        with SlideReader(path, base_mpp) as reader:
            size, slide_mpp = reader.shape, reader.mpp
        _check_extent(path, annotations.get(stem, []), size)
        return SourceImage(
            name=stem, size=size, open_reader=lambda: SlideReader(path), mpp=slide_mpp,
            labels={'masks': orbit_label_fn(annotations.get(stem, []))},
            fields=dict(dataset='orbit', species=meta['species'].strip().lower(), organ='kidney',
                        slide=stem, case=stem, split=split, stain=meta.get('stain', '')))

    skipped = SkippedInputs() if skip_bad else None
    sources = build_sources(slides, make_source, lambda slide: slide[1], skipped)
    tiling = TilingConfig(tile=tile, overlap=overlap, scale=scale, min_tissue=min_tissue,
                          mpp=mpp)
    return convert_sources(sources, out_dir, tiling, desc='Orbit', skipped=skipped,
                           workers=workers)

