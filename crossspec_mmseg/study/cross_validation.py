"""``tools/cross_validate.py run`` as a study: one config, one arm, k folds,
one seed, planned and run by the same code as a study file (so a
``ConcatDataset`` config is folded part by part, as :func:`~.plan.build_stage_config`
does), each fold in ``<work_dir>/fold<k>/``; and ``cv_summary.json``, which
``tools/cross_validate.py compare`` reads.
"""
from __future__ import annotations

import json
import os.path as osp
from typing import Dict, Optional

from ..utils import atomic_path
from .folds import DEFAULT_FOLDS_BY
from .plan import Run, Study
from .summary import collect_scores

__all__ = ['CV_SUMMARY', 'cross_validation_study', 'read_fold_scores', 'write_cv_summary']

CV_SUMMARY = 'cv_summary.json'
#: The one arm of a cross-validation study (also its baseline).
ARM = 'cross-validation'


def cross_validation_study(config: str, work_dir: str, k: int = 5,
                           folds_by: str = DEFAULT_FOLDS_BY, manifest: Optional[str] = None,
                           options: Optional[dict] = None) -> Study:
    """The in-memory study of ``config`` (with ``options``, ``--cfg-options``
    syntax) over ``k`` folds of ``manifest`` (default: the training
    dataset's first manifest). Its one seed is the config's
    ``randomness.seed`` (0 where it sets none): the config trains as it
    would alone."""
    name = osp.splitext(osp.basename(config))[0]
    study = Study(path=config, work_dir=work_dir,
                  runs=[Run(model=name, arm=ARM, config=osp.abspath(config))],
                  baseline=ARM, k=k, folds_by=folds_by, manifest=manifest, seeds=[0],
                  report=[''], metrics=dict(mIoU='mIoU', mDice='mDice'),
                  options=dict(options or {}), cell_dir='fold{fold}')
    seed = (study.load_config(study.runs[0]).get('randomness') or {}).get('seed')
    study.seeds = [0 if seed is None else int(seed)]
    return study


def write_cv_summary(study: Study) -> str:
    """``<work_dir>/cv_summary.json``: the config and ``{fold<k>: metrics}`` of
    every finished fold; returns its path."""
    [run] = study.runs
    scores = collect_scores(study)[run.name]
    folds = {f'fold{cell.fold}': scores[cell.replicate]
             for cell in study.cells() if cell.replicate in scores}
    out = osp.join(study.work_dir, CV_SUMMARY)
    with atomic_path(out) as tmp, open(tmp, 'w') as f:
        json.dump(dict(config=study.path, folds=folds), f, indent=1)
    return out


def read_fold_scores(work_dir: str, metric: str) -> Dict[str, float]:
    """``{fold name: score}`` from ``work_dir/cv_summary.json``."""
    path = osp.join(work_dir, CV_SUMMARY)
    with open(path) as f:
        folds = json.load(f)['folds']
    missing = [name for name, m in folds.items() if metric not in m]
    if missing:
        raise KeyError(f'{path}: folds {missing} have no metric {metric!r}')
    return {name: float(m[metric]) for name, m in folds.items()}
