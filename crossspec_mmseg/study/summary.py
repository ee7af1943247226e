"""A study's results: per run and report group, mean +- std over the
replicates (folds x seeds) of each metric, and each arm against the
baseline arm of the same model (paired t-test, 95 % CI of the mean
difference, one-sample t-test against the baseline mean, wins per fold)."""
from __future__ import annotations

import json
import os.path as osp
from typing import Dict, List, Optional

import numpy as np

from ..evaluation.cross_validation import compare_arms
from .plan import Study

__all__ = ['collect_scores', 'markdown_table', 'summarize']


def metric_key(group: str, metric: str) -> str:
    return f'{group}/{metric}' if group else metric


def group_label(group: str) -> str:
    """'species/human' -> 'human'; 'species+organ/human+kidney' -> 'human+kidney'."""
    return group.rsplit('/', 1)[-1] if group else 'all'


def collect_scores(study: Study) -> Dict[str, Dict[str, dict]]:
    """``{run name: {replicate: metrics}}`` from every finished cell."""
    scores: Dict[str, Dict[str, dict]] = {r.name: {} for r in study.runs}
    for cell in study.cells():
        path = osp.join(cell.work, 'metrics.json')
        if osp.isfile(path):
            with open(path) as f:
                scores[cell.run.name][cell.replicate] = json.load(f)
    return scores


def _stats(values: List[float]) -> dict:
    arr = np.array(values, np.float64)
    return dict(mean=float(arr.mean()), std=float(arr.std(ddof=1)) if len(arr) > 1 else None,
                values=[float(v) for v in values])


def summarize(study: Study, scores: Dict[str, Dict[str, dict]]) -> dict:
    """Everything ``study.json`` holds: per run and group the statistics of
    each metric present, and the comparisons with the baseline."""
    rows = []
    for run in study.runs:
        per_replicate = scores[run.name]
        baseline = next(b for b in study.baseline_runs() if b.model == run.model)
        groups: Dict[str, dict] = {}
        for group in study.report:
            columns = {}
            for column, metric in study.metrics.items():
                key = metric_key(group, metric)
                values = {rep: float(m[key]) for rep, m in per_replicate.items() if key in m}
                if not values:
                    continue
                columns[column] = dict(_stats(list(values.values())), replicates=list(values))
                base = {rep: float(m[key]) for rep, m in scores[baseline.name].items() if key in m}
                if run is not baseline and len(base) >= 2 and len(values) >= 2:
                    columns[column]['vs_baseline'] = compare_arms(base, values)
            groups[group] = columns
        rows.append(dict(model=run.model, arm=run.arm, config=run.config,
                         pretrain=run.pretrain, pipeline=run.pipeline,
                         n=len(per_replicate), groups=groups))
    return dict(study=study.path, baseline=study.baseline, folds=study.k,
                folds_by=study.folds_by, seeds=study.seeds, metrics=study.metrics,
                report=study.report, runs=rows)


def _cell(stats: Optional[dict]) -> str:
    if not stats:
        return '-'
    std = stats['std']
    return f'{stats["mean"]:.1f}' + ('' if std is None else f' ± {std:.1f}')


def _gain(stats: Optional[dict]) -> str:
    compared = (stats or {}).get('vs_baseline')
    if not compared or 'diff_mean' not in compared:
        return '-'
    low, high = compared['diff_ci95']
    return (f'{compared["diff_mean"]:+.1f} [{low:+.1f}, {high:+.1f}], p={compared["paired_p"]:.3f}'
            f', wins {compared["wins"]}/{compared["n_paired"]}')


def markdown_table(summary: dict) -> str:
    """The papers' layout: a row per model x arm, a column group per report
    group (mean ± std over replicates), last the gain over the baseline in the
    first group's first metric (paired mean difference, 95 % CI, p, wins)."""
    groups = summary['report']
    columns = {g: [c for c in summary['metrics']
                   if any(c in r['groups'].get(g, {}) for r in summary['runs'])] for g in groups}
    first_group = groups[0]
    first_metric = (columns[first_group] or [None])[0]
    head = ['Model', 'Arm'] + [f'{group_label(g)} {c}' for g in groups for c in columns[g]]
    head.append(f'Δ {group_label(first_group)} {first_metric} vs {summary["baseline"]}')
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for r in summary['runs']:
        cells = [r['model'], r['arm']]
        cells += [_cell(r['groups'].get(g, {}).get(c)) for g in groups for c in columns[g]]
        cells.append(_gain(r['groups'].get(first_group, {}).get(first_metric)))
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n'
