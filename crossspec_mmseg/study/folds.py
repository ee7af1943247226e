"""Cross-validation folds: which manifest rows each fold trains and is tested on.

The package's one fold planner: study files (``tools/run_study.py``) and
``tools/cross_validate.py run`` (a one-run study) both fold through
:mod:`crossspec_mmseg.study.plan`, which calls :func:`fold_filters`.

The default column is ``group`` (:data:`DEFAULT_SPLIT_BY`): every manifest has
it (patients, slides or images, as the converter sets it), so folds can be
built on any dataset, and a patient or slide never sits on both sides of a
fold. ``split`` (a manifest's own folds, e.g. NuInsSeg's official
fold0..fold4) must be asked for.
"""
from __future__ import annotations

from typing import Dict, List, Mapping, Sequence, Tuple

__all__ = ['DEFAULT_SPLIT_BY', 'SPLIT_BY', 'fold_filters', 'group_folds']

#: The manifest column folds are built from unless a study or the tool says otherwise.
DEFAULT_SPLIT_BY = 'group'
#: The columns folds can be built from.
SPLIT_BY = ('group', 'split')


def group_folds(groups: Sequence[str], k: int) -> Dict[str, int]:
    """Assign each group to one of ``k`` folds, keeping groups whole.

    Greedy by size (largest group to the currently smallest fold, ties by
    name), so fold sizes stay balanced and the result is deterministic.
    """
    sizes: Dict[str, int] = {}
    for g in groups:
        sizes[g] = sizes.get(g, 0) + 1
    if len(sizes) < k:
        raise ValueError(f'{len(sizes)} groups cannot make {k} folds')
    load = [0] * k
    folds = {}
    for g in sorted(sizes, key=lambda g: (-sizes[g], g)):
        fold = min(range(k), key=lambda f: (load[f], f))
        folds[g] = fold
        load[fold] += sizes[g]
    return folds


def fold_filters(rows: Sequence[Mapping[str, str]], k: int,
                 split_by: str = DEFAULT_SPLIT_BY) -> List[Tuple[dict, dict]]:
    """Per fold: (training rows, test rows) as manifest filters.

    ``split_by='group'``: :func:`group_folds` over the group column
    (patients/slides kept whole), trained on every other group; ``'split'``:
    the first ``k`` names of the split column (e.g. NuInsSeg's official
    fold0..fold4), each tested once and trained on the other ``k - 1``.
    """
    if split_by == 'split':
        names = sorted({r['split'] for r in rows})
        if len(names) < k:
            raise ValueError(f'the split column has {names}: fewer than {k} folds; '
                             'split by group instead')
        names = names[:k]
        return [({'split': [n for n in names if n != name]}, {'split': [name]})
                for name in names]
    if split_by != 'group':
        raise ValueError(f"split_by must be 'split' or 'group', not {split_by!r}")
    folds = group_folds([r['group'] for r in rows], k)
    members = [[g for g, f in folds.items() if f == i] for i in range(k)]
    return [({'!group': members[i]}, {'group': members[i]}) for i in range(k)]
