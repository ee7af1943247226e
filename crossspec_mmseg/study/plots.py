"""The study's figure: per metric (rows) and report group (columns), one bar
per model x arm (mean over replicates, error bar = std) with each
replicate as a dot."""
from __future__ import annotations

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..utils import atomic_path  # noqa: E402
from .summary import group_label  # noqa: E402

__all__ = ['plot_study']


def plot_study(summary: dict, out: str) -> None:
    """Write the figure to ``out`` (PNG)."""
    groups, metrics, runs = summary['report'], list(summary['metrics']), summary['runs']
    arms = list(dict.fromkeys(r['arm'] for r in runs))
    models = set(r['model'] for r in runs)
    colours = plt.cm.tab10(np.arange(len(arms)) % 10)
    fig, axes = plt.subplots(len(metrics), len(groups), squeeze=False,
                             figsize=(1.2 + 0.7 * len(runs) * len(groups), 2.6 * len(metrics)))
    rng = np.random.default_rng(0)
    for i, metric in enumerate(metrics):
        for j, group in enumerate(groups):
            ax = axes[i][j]
            for x, run in enumerate(runs):
                stats = run['groups'].get(group, {}).get(metric)
                if not stats:
                    continue
                colour = colours[arms.index(run['arm'])]
                ax.bar(x, stats['mean'], yerr=stats['std'] or 0, color=colour, alpha=0.75,
                       capsize=3, label=run['arm'] if i == j == 0 else None)
                values = stats['values']
                ax.scatter(x + rng.uniform(-0.15, 0.15, len(values)), values, s=10,
                           color='black', zorder=3)
            ax.set_xticks(range(len(runs)))
            ax.set_xticklabels([r['arm'] if len(models) == 1 else f"{r['model']}\n{r['arm']}"
                                for r in runs], rotation=30, ha='right', fontsize=7)
            ax.set_title(f'{group_label(group)}: {metric}', fontsize=9)
            values = [v for r in runs
                      for v in r['groups'].get(group, {}).get(metric, {}).get('values', [])]
            if values and summary['metrics'][metric].split('.')[0] != 'count_diff' \
                    and 0 <= min(values) and max(values) <= 100:  # percentages: zoom in
                ax.set_ylim(max(0, min(values) - 10), 100)
    fig.legend(loc='lower center', ncol=min(len(arms), 4), fontsize=8)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
