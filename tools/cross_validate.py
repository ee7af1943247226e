"""k-fold cross-validation of a config, and the comparison of two regimes.

    # train + test every fold (folds from the manifest's split column, e.g. NuInsSeg's
    # official fold0..fold4, or built from the group column: patients/slides kept whole)
    python tools/cross_validate.py run CONFIG --work-dir W [--folds 5] [--split-by split|group]
        [--gpus N] [--amp] [--cfg-options ...]
    # compare a regime with a baseline on one metric (mean, std, one-sample and paired t-tests)
    python tools/cross_validate.py compare BASELINE_W REGIME_W --metric species/human/mDice

Each fold's metrics go to W/fold<k>/metrics.json; W/cv_summary.json collects them.
``--gpus N`` trains and tests each fold with N processes (tools/dist_train.sh and
tools/dist_test.sh: the recipe's total batch is N x the config's per-GPU batch);
``--amp`` trains with mixed precision.
"""
import argparse
import json
import os
import os.path as osp
import sys

from _launch import run_tool
from mmengine.config import Config, DictAction

from crossspec_mmseg.datasets import dataset_parts, manifest_of, read_manifest
from crossspec_mmseg.evaluation.cross_validation import (
    compare_regimes,
    fold_filters,
    read_fold_scores,
)
from crossspec_mmseg.utils import atomic_path


def fold_filters_of(cfg, k: int, split_by: str):
    """Per fold: (train filters, test filters) on the training manifest."""
    rows = read_manifest(manifest_of(dataset_parts(cfg.train_dataloader.dataset)[0]))
    try:
        return fold_filters(rows, k, split_by)
    except ValueError as err:
        sys.exit(f'error: {err}')


def fold_config(config: str, work: str, train_filter: dict, test_filter: dict) -> str:
    """A config file for one fold: the original with the fold's manifest filters."""
    os.makedirs(work, exist_ok=True)
    path = osp.join(work, 'fold_config.py')
    lines = [f'_base_ = [{osp.abspath(config)!r}]']
    for loader, rows in (('train_dataloader', train_filter), ('val_dataloader', test_filter),
                         ('test_dataloader', test_filter)):
        lines.append(f'{loader} = dict(dataset=dict(filters=dict(_delete_=True, **{rows!r})))')
    with atomic_path(path) as tmp, open(tmp, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return path


def run(args):
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    options = [f'{k}={v}' for k, v in (args.cfg_options or {}).items()]
    summary = {}
    folds = fold_filters_of(cfg, args.folds, args.split_by)
    for k, (train_filter, test_filter) in enumerate(folds):
        work = osp.join(args.work_dir, f'fold{k}')
        config = fold_config(args.config, work, train_filter, test_filter)
        common = ['--work-dir', work] + (['--cfg-options', *options] if options else [])
        run_tool('train.py', args.gpus, [config, *common, *(['--amp'] if args.amp else [])])
        with open(osp.join(work, 'last_checkpoint')) as f:
            checkpoint = f.read().strip()
        run_tool('test.py', args.gpus, [config, checkpoint, *common])
        with open(osp.join(work, 'metrics.json')) as f:
            summary[f'fold{k}'] = json.load(f)
    out = osp.join(args.work_dir, 'cv_summary.json')
    with atomic_path(out) as tmp, open(tmp, 'w') as f:
        json.dump(dict(config=args.config, folds=summary), f, indent=1)
    print(f'{len(summary)} folds; summary: {out}')


def compare(args):
    result = compare_regimes(read_fold_scores(args.baseline, args.metric),
                             read_fold_scores(args.regime, args.metric))
    print(f'{args.metric}: baseline {result["baseline_mean"]:.2f} ± {result["baseline_std"]:.2f}'
          f' (n={result["n_baseline"]}), regime {result["regime_mean"]:.2f} ± '
          f'{result["regime_std"]:.2f} (n={result["n_regime"]})')
    print(f'one-sample t-test vs baseline mean: t={result["one_sample_t"]:.3f}, '
          f'p={result["one_sample_p"]:.4f}')
    if 'paired_p' in result:
        print(f'paired t-test over {result["n_paired"]} matching folds: '
              f't={result["paired_t"]:.3f}, p={result["paired_p"]:.4f}')
    print(json.dumps(result))


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest='command', required=True)
    r = sub.add_parser('run', help='train and test every fold')
    r.add_argument('config')
    r.add_argument('--work-dir', required=True)
    r.add_argument('--folds', type=int, default=5)
    r.add_argument('--split-by', choices=['split', 'group'], default='split')
    r.add_argument('--gpus', type=int, default=1,
                   help='processes per fold (torchrun; CPU processes over gloo without GPUs)')
    r.add_argument('--amp', action='store_true', help='train with mixed precision')
    r.add_argument('--cfg-options', nargs='+', action=DictAction)
    c = sub.add_parser('compare', help='compare two cross-validated regimes')
    c.add_argument('baseline')
    c.add_argument('regime')
    c.add_argument('--metric', default='mDice')
    args = parser.parse_args()
    os.environ.setdefault('PYTHONUNBUFFERED', '1')
    run(args) if args.command == 'run' else compare(args)


if __name__ == '__main__':
    main()
