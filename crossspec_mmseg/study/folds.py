"""Cross-validation folds: which manifest rows each fold trains and is tested on.

The package's one fold planner: study files (``tools/run_study.py``) and
``tools/cross_validate.py run`` (a one-run study) both fold through
:mod:`crossspec_mmseg.study.plan`, which calls :func:`fold_filters`.

Folds come from one manifest column, ``by``:

* ``case`` (the default, :data:`DEFAULT_FOLDS_BY`): every manifest has it
  (the patient, slide or image the converter names as the unit to keep
  whole), so folds can be built on any dataset and a patient or slide never
  sits on both sides of a fold;
* ``fold``: the download's own folds (e.g. NuInsSeg's official fold0..fold4).

The old names (``split_by=``, ``'group'``, ``'split'``) are read for one
release with a warning.
"""
from __future__ import annotations

import warnings
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from ..utils.deprecation import renamed_keyword

__all__ = ['DEFAULT_FOLDS_BY', 'FOLDS_BY', 'case_folds', 'fold_filters', 'folds_column',
           'group_folds']

#: The manifest column folds are built from unless a study or the tool says otherwise.
DEFAULT_FOLDS_BY = 'case'
#: The columns folds can be built from.
FOLDS_BY = ('case', 'fold')
#: Old values of ``by`` -> their names now.
_OLD_FOLDS_BY = {'group': 'case', 'split': 'fold'}


def folds_column(by: Optional[str]) -> str:
    """The column ``by`` names (old names mapped, with a warning).

    Raises:
        ValueError: not a column folds can be built from.
    """
    by = by or DEFAULT_FOLDS_BY
    if by in _OLD_FOLDS_BY:
        warnings.warn(f'folds by {by!r} is deprecated and goes in the next release: use '
                      f'{_OLD_FOLDS_BY[by]!r}', DeprecationWarning, stacklevel=3)
        by = _OLD_FOLDS_BY[by]
    if by not in FOLDS_BY:
        raise ValueError(f"folds are built by 'case' or 'fold', not {by!r}")
    return by


def case_folds(cases: Sequence[str], k: int) -> Dict[str, int]:
    """Assign each case to one of ``k`` folds, keeping cases whole.

    Greedy by size (largest case to the currently smallest fold, ties by
    name), so fold sizes stay balanced and the result is deterministic.
    """
    sizes: Dict[str, int] = {}
    for case in cases:
        sizes[case] = sizes.get(case, 0) + 1
    if len(sizes) < k:
        raise ValueError(f'{len(sizes)} cases cannot make {k} folds')
    load = [0] * k
    folds = {}
    for case in sorted(sizes, key=lambda c: (-sizes[c], c)):
        fold = min(range(k), key=lambda f: (load[f], f))
        folds[case] = fold
        load[fold] += sizes[case]
    return folds


def group_folds(groups: Sequence[str], k: int) -> Dict[str, int]:
    """Deprecated name of :func:`case_folds`."""
    warnings.warn('group_folds is deprecated and goes in the next release: use case_folds',
                  DeprecationWarning, stacklevel=2)
    return case_folds(groups, k)


def fold_filters(rows: Sequence[Mapping[str, str]], k: int, by: Optional[str] = None,
                 split_by: Optional[str] = None) -> List[Tuple[dict, dict]]:
    """Per fold: (training rows, test rows) as manifest filters.

    ``by='case'``: :func:`case_folds` over the case column (patients/slides
    kept whole), trained on every other case; ``'fold'``: the first ``k``
    names of the fold column (e.g. NuInsSeg's official fold0..fold4), each
    tested once and trained on the other ``k - 1``. ``split_by`` is the old
    name of ``by``.
    """
    by = folds_column(renamed_keyword('fold_filters', 'split_by', 'by', split_by, by, None))
    if by == 'fold':
        names = sorted({r['fold'] for r in rows} - {''})
        if len(names) < k:
            raise ValueError(f'the fold column has {names}: fewer than {k} folds; '
                             "build folds by 'case' instead")
        names = names[:k]
        return [({'fold': [n for n in names if n != name]}, {'fold': [name]})
                for name in names]
    folds = case_folds([r['case'] for r in rows], k)
    members = [[c for c, f in folds.items() if f == i] for i in range(k)]
    return [({'!case': members[i]}, {'case': members[i]}) for i in range(k)]
