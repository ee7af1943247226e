"""Training regimes as row selections of a manifest.

For a target (e.g. ``dict(species='human', organ='kidney')``):

* ``separate`` / ``finetune``: the target rows only;
* ``homologous``: the target + the same organ from the other species;
* ``analogous``: the target + organs with a similar function (any species),
  from a pairing table (shipped: ``resources/analogous_organs.csv``, one
  ``function,organ`` row per organ; organs sharing a function are analogous);
* ``combined``: homologous + analogous;
* ``pretrain``: the non-target rows of ``source`` (``homologous`` by
  default), i.e. what a model sees before fine-tuning on the target.
"""
from __future__ import annotations

import csv
import os.path as osp
from collections import defaultdict
from typing import Dict, List, Mapping, Set, Union

__all__ = ['REGIMES', 'DEFAULT_PAIRS_CSV', 'analogous_organs', 'select_regime']

REGIMES = ('separate', 'homologous', 'analogous', 'combined', 'pretrain', 'finetune')
DEFAULT_PAIRS_CSV = osp.join(osp.dirname(osp.dirname(__file__)), 'resources',
                             'analogous_organs.csv')


def analogous_organs(organ: str, pairs: Union[str, Mapping[str, List[str]], None] = None
                     ) -> Set[str]:
    """Organs sharing a function with ``organ`` (not including it).

    ``pairs`` is a ``function,organ`` CSV path or ``{function: [organs]}``.
    """
    if pairs is None or isinstance(pairs, str):
        table: Dict[str, List[str]] = defaultdict(list)
        with open(pairs or DEFAULT_PAIRS_CSV, newline='') as f:
            for row in csv.DictReader(f):
                table[row['function'].strip()].append(row['organ'].strip().lower())
        pairs = table
    return {o for organs in pairs.values() if organ in organs for o in organs} - {organ}


def _is_target(row: Mapping[str, str], target: Mapping[str, str]) -> bool:
    return all(row[k] == str(v) for k, v in target.items())


def select_regime(rows: List[Dict[str, str]], mode: str, target: Mapping[str, str],
                  source: str = 'homologous',
                  pairs: Union[str, Mapping[str, List[str]], None] = None) -> List[Dict[str, str]]:
    """The rows a regime trains on (see the module docstring).

    Raises:
        ValueError: unknown mode, or a target without ``species``.
    """
    if mode not in REGIMES:
        raise ValueError(f'unknown regime {mode!r}; one of {REGIMES}')
    if 'species' not in target:
        raise ValueError(f'regime target needs a species, got {dict(target)}')
    if mode in ('separate', 'finetune'):
        return [r for r in rows if _is_target(r, target)]
    if mode == 'pretrain':
        if source not in ('homologous', 'analogous', 'combined'):
            raise ValueError(f'pretrain source must be homologous/analogous/combined, '
                             f'got {source!r}')
        return [r for r in select_regime(rows, source, target, pairs=pairs)
                if not _is_target(r, target)]
    organ = target.get('organ')
    keep = []
    analogs = analogous_organs(organ, pairs) if organ else set()
    for r in rows:
        homologous = organ is None or r['organ'] == organ
        analogous = r['organ'] in analogs
        if (_is_target(r, target)
                or (mode in ('homologous', 'combined') and homologous)
                or (mode in ('analogous', 'combined') and analogous)):
            keep.append(r)
    return keep
