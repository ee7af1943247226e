"""k-fold cross-validation of a config, and the comparison of two arms (configs or regimes).

    # train + test every fold (folds built from the manifest's case column: patients/
    # slides kept whole; or its fold column, e.g. NuInsSeg's official fold0..fold4)
    python tools/cross_validate.py run CONFIG --work-dir W [--folds 5] [--folds-by case|fold]
        [--manifest M] [--gpus N] [--amp] [--no-pretrained] [--cfg-options ...]
    # compare an arm with a baseline on one metric (mean, std, one-sample and paired t-tests)
    python tools/cross_validate.py compare BASELINE_W ARM_W --metric species/human/mDice

``run`` is a one-run study (docs/study.md): one config, k folds, one seed (the
config's), planned and run by the same code as tools/run_study.py. Folds split
the rows of one manifest (``--manifest``, default the training dataset's
first); every dataset part reading it (ConcatDataset parts too) trains on the
fold's training rows and is tested on its test rows; parts of other manifests
keep their own filters. Fold k works in W/fold<k>/ (its full config in
configs/train.py, its metrics in metrics.json); W/cv_summary.json collects
them. A rerun skips finished folds and resumes an interrupted one. ``--gpus N``
trains and tests each fold with N torchrun processes (the recipe's total batch
is N x the config's per-GPU batch); ``--amp`` trains with mixed precision.
"""
import argparse
import json
import os
import sys

from _launch import run_tool
from mmengine.config import DictAction

import crossspec_mmseg  # noqa: F401  (registers components, checkpoint safe globals)
from crossspec_mmseg.apis import test_segmentor, train_segmentor
from crossspec_mmseg.apis.cli import load_cli_config
from crossspec_mmseg.evaluation.cross_validation import compare_arms
from crossspec_mmseg.study import check_study
from crossspec_mmseg.study.cross_validation import (
    cross_validation_study,
    read_fold_scores,
    write_cv_summary,
)
from crossspec_mmseg.study.folds import DEFAULT_FOLDS_BY, FOLDS_BY, folds_column
from crossspec_mmseg.study.runner import StageRunner, run_cells


def run(args):
    try:
        study = cross_validation_study(args.config, args.work_dir, args.folds,
                                       folds_column(args.folds_by),
                                       args.manifest, args.cfg_options)
        check_study(study)
    except (OSError, ValueError) as err:
        sys.exit(f'error: {err}')
    run_cells(study, StageRunner(load_cli_config, train_segmentor, test_segmentor, run_tool,
                                 gpus=args.gpus, amp=args.amp, pretrained=not args.no_pretrained))
    out = write_cv_summary(study)
    print(f'{study.k} folds; summary: {out}')


def compare(args):
    result = compare_arms(read_fold_scores(args.baseline, args.metric),
                          read_fold_scores(args.arm, args.metric))
    print(f'{args.metric}: baseline {result["baseline_mean"]:.2f} ± {result["baseline_std"]:.2f}'
          f' (n={result["n_baseline"]}), arm {result["arm_mean"]:.2f} ± '
          f'{result["arm_std"]:.2f} (n={result["n_arm"]})')
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
    r.add_argument('--folds-by', '--split-by', choices=FOLDS_BY + ('group', 'split'),
                   default=DEFAULT_FOLDS_BY,
                   help=f'manifest column the folds come from (default {DEFAULT_FOLDS_BY}: '
                        'patients/slides kept whole; fold: the manifest\'s own folds); '
                        '--split-by, group and split are the old names')
    r.add_argument('--manifest', help="the manifest whose rows are folded (default: the "
                                      "training dataset's first)")
    r.add_argument('--gpus', type=int, default=1,
                   help='processes per fold (torchrun; CPU processes over gloo without GPUs)')
    r.add_argument('--amp', action='store_true', help='train with mixed precision')
    r.add_argument('--no-pretrained', action='store_true',
                   help='drop the published initialisation (nothing is downloaded)')
    r.add_argument('--cfg-options', nargs='+', action=DictAction)
    c = sub.add_parser('compare', help='compare two cross-validated arms')
    c.add_argument('baseline')
    c.add_argument('arm')
    c.add_argument('--metric', default='mDice')
    args = parser.parse_args()
    os.environ.setdefault('PYTHONUNBUFFERED', '1')
    run(args) if args.command == 'run' else compare(args)


if __name__ == '__main__':
    main()
