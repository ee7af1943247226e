"""The statistics that compare two regimes' fold scores.

As the glomeruli paper reports (its table 4): mean and standard deviation of
the fold scores per regime, a one-sample t-test of the regime's fold scores
against the baseline's mean, and, where the folds match, a paired t-test.

Fold planning (``group_folds``, ``fold_filters``) moved to
:mod:`crossspec_mmseg.study.folds` and ``read_fold_scores`` (which reads what
``tools/cross_validate.py run`` writes) to
:mod:`crossspec_mmseg.study.cross_validation`: importing them from here still
works, with a ``DeprecationWarning``, until the next release.
"""
from __future__ import annotations

import warnings
from typing import List, Mapping

import numpy as np
from scipy import stats

__all__ = ['compare_regimes']

#: Names that moved up to crossspec_mmseg.study: name -> its module there.
MOVED = {'group_folds': 'folds', 'fold_filters': 'folds', 'read_fold_scores': 'cross_validation'}


def __getattr__(name: str):
    if name not in MOVED:
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
    # The one import of study/ (a floor up), for the deprecated path only.
    from ..study import cross_validation, folds
    new = {'folds': folds, 'cross_validation': cross_validation}[MOVED[name]]
    warnings.warn(f'{__name__}.{name} moved to {new.__name__}.{name}; the old import path '
                  'goes in the next release', DeprecationWarning, stacklevel=2)
    return getattr(new, name)


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
