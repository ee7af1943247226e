"""The tile manifest: one CSV row per tile, the single record of what a tile is.

Converters write it; datasets, samplers, metrics, folds and inference read it;
nothing re-derives species or organ from file names.

Columns with one meaning each: ``case`` is the unit cross-validation keeps
whole (a patient, an animal's slide, an image); ``split`` is the download's
train/val/test, ``fold`` its cross-validation fold (``fold0``...). Manifests
written before these names (a ``group`` column, NuInsSeg folds in ``split``)
are read with a :class:`DeprecationWarning` for one release, and filters on
the old names are applied to the new columns.
"""
from __future__ import annotations

import csv
import io
import re
import warnings
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Union

from mmengine import fileio

from ..utils.atomic import atomic_path
from ..utils.storage import isfile

__all__ = ['MANIFEST_COLUMNS', 'META_COLUMNS', 'OPTIONAL_META_COLUMNS', 'RENAMED_COLUMNS',
           'Filters', 'filter_rows', 'read_manifest', 'write_manifest']

#: Required columns, in the order they are written.
MANIFEST_COLUMNS = ('image', 'mask', 'dataset', 'species', 'organ', 'slide', 'case',
                    'split', 'fold', 'x', 'y', 'width', 'height', 'scale')
#: Columns copied into every sample's metainfo (and so into data samples).
META_COLUMNS = ('dataset', 'species', 'organ', 'slide', 'case', 'split', 'fold')
#: Columns copied into a sample's metainfo when the manifest has them (the
#: nuclei family's source records, and each tile's um/px).
OPTIONAL_META_COLUMNS = ('origin', 'patient', 'mpp')
#: Old column name -> its name now (read for one release, with a warning).
RENAMED_COLUMNS = {'group': 'case'}
_FOLD_VALUE = re.compile(r'fold\d+$')

#: Rows to keep: ``{column: value or [values]}``; ``'!column'`` excludes (:func:`filter_rows`).
Filters = Mapping[str, Union[str, int, Sequence[Union[str, int]]]]


def write_manifest(path: str, rows: Iterable[Mapping[str, object]]) -> None:
    """Write ``rows`` atomically; extra keys beyond the required columns are kept."""
    rows = list(rows)
    extra = sorted({k for row in rows for k in row} - set(MANIFEST_COLUMNS))
    with atomic_path(path) as tmp, open(tmp, 'w', newline='', encoding='utf-8') as f:
        writer = csv.DictWriter(f, fieldnames=list(MANIFEST_COLUMNS) + extra)
        writer.writeheader()
        writer.writerows(rows)


def read_manifest(path: str, backend_args: Optional[dict] = None) -> List[Dict[str, str]]:
    """Read and validate a manifest.

    Args:
        path: The manifest, a local path or one of an mmengine file backend
            (``s3://...``, ``http://...``).
        backend_args: As MMSeg datasets' ``backend_args``: the mmengine file
            backend to read ``path`` with (e.g. ``dict(backend='petrel')``);
            ``None``: chosen by the path's prefix (local without one).

    Raises:
        FileNotFoundError: no manifest at ``path``.
        ValueError: a required column is missing or a row has an empty
            ``image``/``species`` (the message names the file and line).
    """
    if not isfile(path, backend_args):
        raise FileNotFoundError(f'manifest not found: {path} (run a converter under '
                                'tools/dataset_converters/ first)')
    reader = csv.DictReader(io.StringIO(fileio.get_text(path, backend_args=backend_args),
                                        newline=''))
    rows = _upgrade(path, list(reader.fieldnames or []), list(reader))
    for line, row in enumerate(rows, start=2):
        for column in ('image', 'species'):
            if not row[column]:
                raise ValueError(f'{path}:{line}: empty {column!r} in manifest row')
    return rows


def _upgrade(path: str, columns: List[str], rows: List[Dict[str, str]]) -> List[Dict[str, str]]:
    """Rows of a manifest written with the old column names, under the new ones."""
    old = [c for c in RENAMED_COLUMNS if c in columns and RENAMED_COLUMNS[c] not in columns]
    folds_in_split = 'fold' not in columns and 'split' in columns and rows and all(
        _FOLD_VALUE.match(r['split']) for r in rows)
    if old or folds_in_split:
        what = [f'{c!r} is now {RENAMED_COLUMNS[c]!r}' for c in old] + (
            ["its folds are in 'split', now in 'fold'"] if folds_in_split else [])
        warnings.warn(f'{path}: old manifest ({"; ".join(what)}); read under the new names '
                      'for one release: convert the download again', DeprecationWarning,
                      stacklevel=3)
    for row in rows:
        for c in old:
            row[RENAMED_COLUMNS[c]] = row.pop(c)
        if folds_in_split:
            row['fold'], row['split'] = row['split'], ''
        row.setdefault('fold', '')
    columns = [RENAMED_COLUMNS.get(c, c) for c in columns] + ['fold']
    missing = [c for c in MANIFEST_COLUMNS if c not in columns]
    if missing:
        raise ValueError(f'{path}: manifest lacks columns {missing}; '
                         f'required: {list(MANIFEST_COLUMNS)}')
    return rows


def filter_rows(rows: Iterable[Dict[str, str]], filters: Filters | None) -> List[Dict[str, str]]:
    """Keep rows whose column values are among the allowed ones.

    ``filters`` maps a column to one value or a list of values, e.g.
    ``dict(species='human', split=['train', 'val'])``; a column prefixed with
    ``!`` excludes instead (``{'!slide': ['aaa6a05cc']}``). Values compare as
    strings.
    """
    rows = list(rows)
    for key, values in (filters or {}).items():
        column, exclude = key.lstrip('!'), key.startswith('!')
        values = {str(v) for v in ([values] if isinstance(values, (str, int)) else values)}
        column = _current_column(column, values)
        if rows and column not in rows[0]:
            raise KeyError(f'filter on unknown manifest column {column!r}')
        rows = [row for row in rows if (row[column] in values) != exclude]
    return rows


def _current_column(column: str, values: set) -> str:
    """The column a filter means: old names (``group``; folds asked of
    ``split``) mapped to the new ones, with a warning."""
    new = RENAMED_COLUMNS.get(column)
    if new is None and column == 'split' and values and all(map(_FOLD_VALUE.match, values)):
        new = 'fold'
    if new is None:
        return column
    warnings.warn(f'manifest filter on {column!r} {sorted(values)}: the column is now {new!r} '
                  '(the old name is read for one release)', DeprecationWarning, stacklevel=4)
    return new
