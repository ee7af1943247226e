"""Plots for a set of runs: per-species metrics per regime, loss curves, a qualitative panel.

    python tools/analyze_results.py --runs separate=work_dirs/a combined=work_dirs/b \
        --out plots/ [--metric mDice] [--panel DATA_ROOT [NAME=]PRED_DIR ... [--tiles 4]
        [--species human]]

- metrics_per_species.png: the metric per species (from each run's metrics.json) per regime;
- loss_curves.png: training loss against iteration (mmengine's vis_data/scalars.json);
- panel.png (with --panel): image, ground truth and each run's prediction overlaid, for a
  few tiles of a converted dataset (optionally of one species), predictions as written by
  `tools/test.py --out PRED_DIR`.
"""
import argparse
import glob
import json
import os
import os.path as osp

import matplotlib

matplotlib.use('Agg')
import cv2  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from crossspec_mmseg.structures import read_manifest  # noqa: E402


def species_metric(metrics: dict, metric: str) -> dict:
    return {k.split('/')[1]: v for k, v in metrics.items()
            if k.startswith('species/') and k.endswith(f'/{metric}')}


def plot_metrics(runs: dict, metric: str, out: str) -> None:
    values = {name: species_metric(json.load(open(osp.join(d, 'metrics.json'))), metric)
              for name, d in runs.items()}
    species = sorted({s for v in values.values() for s in v})
    width = 0.8 / max(len(runs), 1)
    fig, ax = plt.subplots(figsize=(1.5 + 1.2 * len(species) * len(runs) / 2, 3.5))
    for i, (name, v) in enumerate(values.items()):
        xs = np.arange(len(species)) + i * width
        bars = ax.bar(xs, [v.get(s, np.nan) for s in species], width, label=name)
        ax.bar_label(bars, fmt='%.1f', fontsize=7)
    ax.set_xticks(np.arange(len(species)) + width * (len(runs) - 1) / 2, species)
    ax.set_ylabel(f'{metric} (%)')
    ax.set_ylim(0, 100)
    ax.legend(title='regime', fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def read_losses(work_dir: str):
    """(iterations, losses) of the latest training run logged in ``work_dir``."""
    for path in sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')),
                       reverse=True):  # test runs log there too, without a loss
        records = [json.loads(line) for line in open(path)]
        points = [(r['iter'], r['loss']) for r in records if 'loss' in r and 'iter' in r]
        if points:
            return tuple(zip(*points))
    raise FileNotFoundError(f'{work_dir}: no training loss in */vis_data/scalars.json')


def plot_losses(runs: dict, out: str) -> None:
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for name, d in runs.items():
        ax.plot(*read_losses(d), label=name)
    ax.set_xlabel('iteration')
    ax.set_ylabel('training loss')
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def overlay(image: np.ndarray, mask: np.ndarray, colour=(40, 230, 80)) -> np.ndarray:
    out = image.copy()
    fg = (mask > 0) & (mask != 255)
    out[fg] = (0.5 * out[fg] + 0.5 * np.array(colour)).astype(np.uint8)
    return out


def _prediction(pred_dir: str, row: dict) -> str:
    return osp.join(pred_dir, osp.basename(row['image'])[:-4] + '.png')


def plot_panel(data_root: str, preds: dict, out: str, tiles: int,
               species: str = None) -> None:
    """``preds``: ``{title: PRED_DIR}``, one column each after image and truth."""
    rows = [r for r in read_manifest(osp.join(data_root, 'manifest.csv'))
            if (species is None or r['species'] == species)
            and all(osp.isfile(_prediction(d, r)) for d in preds.values())][:tiles]
    if not rows:
        raise FileNotFoundError(f'no predictions in {", ".join(preds.values())} for tiles of '
                                f'{data_root}' + (f' (species {species})' if species else ''))
    columns = 2 + len(preds)
    fig, axes = plt.subplots(len(rows), columns, figsize=(2.4 * columns, 2.4 * len(rows)),
                             squeeze=False)
    for ax_row, row in zip(axes, rows):
        image = cv2.imread(osp.join(data_root, row['image']))[..., ::-1]
        truth = cv2.imread(osp.join(data_root, row['mask']), cv2.IMREAD_UNCHANGED)
        panels = [image, overlay(image, truth)] + [
            overlay(image, cv2.imread(_prediction(d, row), cv2.IMREAD_UNCHANGED))
            for d in preds.values()]
        titles = [f"{row['species']} {row['organ']}", 'ground truth'] + list(preds)
        for ax, img, title in zip(ax_row, panels, titles):
            ax.imshow(img)
            ax.set_title(title, fontsize=8)
            ax.axis('off')
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--runs', nargs='+', required=True, metavar='NAME=WORK_DIR')
    parser.add_argument('--out', required=True)
    parser.add_argument('--metric', default='mDice')
    parser.add_argument('--panel', nargs='+', metavar='DATA_ROOT [NAME=]PRED_DIR',
                        help='dataset root, then one prediction folder per column')
    parser.add_argument('--tiles', type=int, default=4)
    parser.add_argument('--species', help='panel tiles of this species only')
    args = parser.parse_args()
    runs = dict(r.split('=', 1) for r in args.runs)
    os.makedirs(args.out, exist_ok=True)
    written = [osp.join(args.out, 'metrics_per_species.png'),
               osp.join(args.out, 'loss_curves.png')]
    plot_metrics(runs, args.metric, written[0])
    plot_losses(runs, written[1])
    if args.panel:
        written.append(osp.join(args.out, 'panel.png'))
        if len(args.panel) < 2:
            parser.error('--panel needs DATA_ROOT and at least one PRED_DIR')
        preds = dict(p.split('=', 1) if '=' in p else ('prediction', p)
                     for p in args.panel[1:])
        plot_panel(args.panel[0], preds, written[-1], args.tiles, args.species)
    print('\n'.join(written))


if __name__ == '__main__':
    main()
