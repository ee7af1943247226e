"""What the group metrics share: which metainfo keys a sample is reported
under, the per-group scores in one flat dict, and the table of them."""
from __future__ import annotations

from collections import defaultdict
from typing import Callable, Dict, List, Mapping, Sequence, Tuple

from prettytable import PrettyTable

__all__ = ['format_group_table', 'format_typed_tables', 'parse_report_by', 'sample_groups',
           'scores_per_group']

#: Columns of the table: GroupIoUMetric's, then GroupInstanceMetric's when present.
IOU_COLUMNS = ('n', 'mIoU', 'mDice', 'mIoU_std', 'mDice_std')
INSTANCE_COLUMNS = ('nuclei', 'PQ', 'DQ', 'SQ', 'AJI', 'AJI+', 'F1', 'PQ_img', 'PQ_img_std',
                    'AJI_img', 'AJI_img_std')
#: The typed nuclei scores every label set has (then ``PQ_<class>`` per class).
TYPED_COLUMNS = ('bPQ', 'mPQ', 'mPQ+', 'F1d')


def parse_report_by(report_by: Sequence) -> Dict[str, Tuple[str, ...]]:
    """``('species', ('species', 'organ'))`` -> ``{'species': ('species',),
    'species+organ': ('species', 'organ')}``."""
    return {('+'.join(k) if isinstance(k, (tuple, list)) else k):
            (tuple(k) if isinstance(k, (tuple, list)) else (k,)) for k in report_by}


def sample_groups(sample: Mapping, report_by: Dict[str, Tuple[str, ...]]) -> Dict[str, str]:
    """The group value of a data sample under each ``report_by`` name.

    Raises:
        KeyError: the sample's metainfo lacks a key (names the fix).
    """
    missing = sorted({k for keys in report_by.values() for k in keys if k not in sample})
    if missing:
        raise KeyError(f'{sample.get("img_path", "sample")}: metainfo lacks {missing}; add them '
                       'to PackSegInputs(meta_keys=...) and use a manifest dataset')
    return {name: '+'.join(str(sample[k]) for k in keys) for name, keys in report_by.items()}


def scores_per_group(results: List[dict], report_by: Mapping,
                     score: Callable[[List[dict]], Dict[str, float]]) -> Dict[str, float]:
    """``<name>/<value>/<key>`` for every group of ``results`` (each with a
    ``groups`` dict from :func:`sample_groups`), scored by ``score``."""
    metrics: Dict[str, float] = {}
    for key in report_by:
        members = defaultdict(list)
        for r in results:
            members[r['groups'][key]].append(r)
        for value in sorted(members):
            metrics.update({f'{key}/{value}/{k}': v for k, v in score(members[value]).items()})
    return metrics


def _rows(metrics: Mapping[str, float]) -> Dict[str, Dict[str, float]]:
    """``{row name: {key: value}}``: ``all`` and one row per ``<column>/<value>``."""
    rows = {'all': {k: v for k, v in metrics.items() if '/' not in k}}
    for key, value in metrics.items():
        if key.count('/') == 2:
            column, group, name = key.split('/')
            rows.setdefault(f'{column}={group}', {})[name] = value
    return rows


def format_typed_tables(metrics: Mapping[str, float]) -> str:
    """One table per group scored with types (e.g. per dataset: its own label
    set): bPQ, mPQ, mPQ+, F1d, then PQ of each of its classes. '' when
    no group has typed scores."""
    tables = []
    for name, scores in _rows(metrics).items():
        if 'mPQ' not in scores:
            continue
        columns = list(TYPED_COLUMNS) + sorted(k for k in scores if k.startswith('PQ_'))
        table = PrettyTable(['group'] + columns)
        table.add_row([name] + [scores.get(c, '') for c in columns])
        tables.append(table.get_string())
    return '\n'.join(tables)


def format_group_table(metrics: Dict[str, float], columns: Sequence[str] = ()) -> str:
    """Render a group metric's flat dict as a table, one row per group.

    Without ``columns``: GroupIoUMetric's columns, its per-class IoU/Dice and
    GroupInstanceMetric's columns when the dict has them.
    """
    rows = _rows(metrics)
    if not columns:
        columns = list(IOU_COLUMNS)
        columns += sorted(k for k in rows['all'] if k.startswith(('IoU.', 'Dice.')))
        columns += [c for c in INSTANCE_COLUMNS if c in rows['all']]
    table = PrettyTable(['group'] + list(columns))
    for name, scores in rows.items():
        table.add_row([name] + [scores.get(c, '') for c in columns])
    return table.get_string()
