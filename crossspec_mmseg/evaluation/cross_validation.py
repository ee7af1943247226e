"""Cross-validation folds and the statistics that compare two regimes.

As the glomeruli paper reports (its table 4): mean and standard deviation of
the fold scores per regime, a one-sample t-test of the regime's fold scores
against the baseline's mean, and, where the folds match, a paired t-test.
"""
from __future__ import annotations

import json
import os.path as osp
from typing import Dict, List, Mapping, Sequence, Tuple

import numpy as np
from scipy import stats

__all__ = ['compare_regimes', 'fold_filters', 'group_folds', 'read_fold_scores']


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
                 split_by: str) -> List[Tuple[dict, dict]]:
    """Per fold: (training rows, test rows) as manifest filters.

    ``split_by='split'``: the first ``k`` names of the split column (e.g.
    NuInsSeg's official fold0..fold4), each tested once and trained on the
    other ``k - 1``; ``'group'``: :func:`group_folds` over the group column
    (patients/slides kept whole), trained on every other group.
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


def read_fold_scores(work_dir: str, metric: str) -> Dict[str, float]:
    """``{fold name: score}`` from ``work_dir/cv_summary.json``."""
    path = osp.join(work_dir, 'cv_summary.json')
    with open(path) as f:
        folds = json.load(f)['folds']
    missing = [name for name, m in folds.items() if metric not in m]
    if missing:
        raise KeyError(f'{path}: folds {missing} have no metric {metric!r}')
    return {name: float(m[metric]) for name, m in folds.items()}


def compare_regimes(baseline: Mapping[str, float], regime: Mapping[str, float]) -> dict:
    """Mean/std of both, one-sample t-test of ``regime`` against the
    baseline's mean and, over the folds both have (at least two): the paired
    t-test, the mean difference with its 95 % confidence interval (t
    distribution) and the folds the regime wins."""
    base = np.array(list(baseline.values()), np.float64)
    reg = np.array(list(regime.values()), np.float64)
    result = dict(baseline_mean=float(base.mean()), baseline_std=float(base.std(ddof=1)),
                  regime_mean=float(reg.mean()), regime_std=float(reg.std(ddof=1)),
                  n_baseline=len(base), n_regime=len(reg))
    one = stats.ttest_1samp(reg, base.mean())
    result.update(one_sample_t=float(one.statistic), one_sample_p=float(one.pvalue))
    common: List[str] = sorted(set(baseline) & set(regime))
    if len(common) >= 2:
        diff = np.array([regime[f] - baseline[f] for f in common], np.float64)
        paired = stats.ttest_rel([regime[f] for f in common], [baseline[f] for f in common])
        half = stats.t.ppf(0.975, len(diff) - 1) * diff.std(ddof=1) / np.sqrt(len(diff))
        result.update(paired_t=float(paired.statistic), paired_p=float(paired.pvalue),
                      n_paired=len(common), diff_mean=float(diff.mean()),
                      diff_ci95=[float(diff.mean() - half), float(diff.mean() + half)],
                      wins=int((diff > 0).sum()))
    return result
