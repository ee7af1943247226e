"""CSV tables of the raw downloads, read with errors that name the file.

Spreadsheet programs re-save CSVs with ``;`` or tabs (European locales), so
the delimiter is taken from the header: the first of ``,``, ``;``, tab and
``|`` that splits it into the columns the table needs.
"""
from __future__ import annotations

import csv
import os.path as osp
from typing import Dict, Iterable, List, Tuple

from .errors import BadDownloadError

__all__ = ['read_table', 'index_rows']

DELIMITERS = (',', ';', '\t', '|')


def read_table(path: str, required: Iterable[str]) -> List[Tuple[int, Dict[str, str]]]:
    """Rows of a CSV with their line numbers (header = line 1).

    Args:
        path: The CSV file.
        required: Columns it must have (surrounding spaces in the header are
            ignored).

    Raises:
        BadDownloadError: the file is missing, empty, or no delimiter gives
            the required columns (the message lists what the header holds).
    """
    required = list(required)
    if not osp.isfile(path):
        raise BadDownloadError(f'{path} not found: is this the unpacked download?')
    with open(path, newline='', encoding='utf-8-sig') as f:
        header = f.readline()
        if not header.strip():
            raise BadDownloadError(f'{path} is empty: expected a header with columns '
                                   f'{",".join(required)}')
        delimiter = next((d for d in DELIMITERS
                          if set(required) <= {c.strip() for c in _split(header, d)}), None)
        if delimiter is None:
            found = max((_split(header, d) for d in DELIMITERS), key=len)
            missing = [c for c in required if c not in {x.strip() for x in found}]
            raise BadDownloadError(f'{path}: columns {missing} missing (header has {found}); '
                                   f'it needs {",".join(required)}, comma-separated')
        f.seek(0)
        reader = csv.DictReader(f, delimiter=delimiter)
        reader.fieldnames = [c.strip() for c in reader.fieldnames or []]
        rows = []
        for row in reader:
            rows.append((reader.line_num, {k: (v or '').strip() if k is not None else v
                                           for k, v in row.items()}))
    return rows


def _split(line: str, delimiter: str) -> List[str]:
    return next(csv.reader([line.rstrip('\r\n')], delimiter=delimiter), [])


def index_rows(path: str, rows: List[Tuple[int, Dict[str, str]]],
               key: str, normalise=lambda value: value) -> Dict[str, Tuple[int, Dict[str, str]]]:
    """``{normalise(row[key]): (line, row)}``.

    Raises:
        BadDownloadError: a key given twice (the message names both lines),
            since keeping either row would silently drop the other.
    """
    index: Dict[str, Tuple[int, Dict[str, str]]] = {}
    for line, row in rows:
        value = normalise(row[key])
        if value in index:
            raise BadDownloadError(f'{path}: {key} {value!r} is listed twice (lines '
                                   f'{index[value][0]} and {line}); keep one row')
        index[value] = (line, row)
    return index
