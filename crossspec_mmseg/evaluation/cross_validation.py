"""The statistics that compare two study arms' fold scores.

As the glomeruli paper reports (its table 4): mean and standard deviation of
the fold scores per arm, a one-sample t-test of the arm's fold scores
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

__all__ = ['compare_arms', 'compare_regimes']

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


def compare_arms(baseline: Mapping[str, float], arm: Mapping[str, float]) -> dict:
    """Mean/std of both, one-sample t-test of ``arm`` against the
    baseline's mean and, over the folds both have (at least two): the paired
    t-test, the mean difference with its 95 % confidence interval (t
    distribution) and the folds the arm wins."""
    base = np.array(list(baseline.values()), np.float64)
    other = np.array(list(arm.values()), np.float64)
    result = dict(baseline_mean=float(base.mean()), baseline_std=float(base.std(ddof=1)),
                  arm_mean=float(other.mean()), arm_std=float(other.std(ddof=1)),
                  n_baseline=len(base), n_arm=len(other))
    one = stats.ttest_1samp(other, base.mean())
    result.update(one_sample_t=float(one.statistic), one_sample_p=float(one.pvalue))
    common: List[str] = sorted(set(baseline) & set(arm))
    if len(common) >= 2:
        diff = np.array([arm[f] - baseline[f] for f in common], np.float64)
        paired = stats.ttest_rel([arm[f] for f in common], [baseline[f] for f in common])
        half = stats.t.ppf(0.975, len(diff) - 1) * diff.std(ddof=1) / np.sqrt(len(diff))
        result.update(paired_t=float(paired.statistic), paired_p=float(paired.pvalue),
                      n_paired=len(common), diff_mean=float(diff.mean()),
                      diff_ci95=[float(diff.mean() - half), float(diff.mean() + half)],
                      wins=int((diff > 0).sum()))
    return result


def compare_regimes(baseline: Mapping[str, float], regime: Mapping[str, float]) -> dict:
    """Deprecated: :func:`compare_arms` (its keys ``arm_*`` named ``regime_*``)."""
    warnings.warn('compare_regimes is deprecated and goes in the next release: use '
                  'compare_arms (keys arm_mean, arm_std, n_arm)', DeprecationWarning,
                  stacklevel=2)
    return {k.replace('arm', 'regime', 1) if k.startswith(('arm_', 'n_arm')) else k: v
            for k, v in compare_arms(baseline, regime).items()}
