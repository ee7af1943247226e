"""Run a study: every model x regime x fold x seed trained, tested, compared.

    python tools/run_study.py STUDY.py [--dry-run] [--gpus N] [--amp] [--report-only]

STUDY.py names the configs, folds, seeds and the baseline regime (see
studies/ and docs/study.md). Each cell trains (after its stage 1 for
pretrain -> finetune runs) and tests through the same functions as
tools/train.py and tools/test.py: in this process, or with ``--gpus N > 1``
(or ``GPUS=N``) under torchrun (N processes; CPU processes over gloo without
GPUs). Reruns resume: finished cells are skipped, an interrupted one resumes
from its newest complete checkpoint. Writes ``<work_dir>/study.json``, ``study.md``
(the table) and ``study.png`` (bars with error bars and per-fold dots).
"""
import argparse
import os
import sys
import time

from _launch import run_tool

import crossspec_mmseg  # noqa: F401  (registers components, checkpoint safe globals)
from crossspec_mmseg.apis import test_segmentor, train_segmentor
from crossspec_mmseg.apis.cli import load_cli_config
from crossspec_mmseg.study import check_study, load_study
from crossspec_mmseg.study.plan import describe
from crossspec_mmseg.study.runner import StageRunner, run_cells, write_report


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('study', help='study file (Python config), e.g. studies/demo.py')
    parser.add_argument('--work-dir', help="overrides the study's work_dir")
    parser.add_argument('--dry-run', action='store_true', help='list the cells and stop')
    parser.add_argument('--report-only', action='store_true',
                        help='only summarise the finished cells')
    parser.add_argument('--gpus', type=int, default=int(os.environ.get('GPUS', 1)),
                        help='processes per cell (torchrun; CPU processes over gloo without '
                             'GPUs); default $GPUS or 1')
    parser.add_argument('--amp', action='store_true', help='train with mixed precision')
    parser.add_argument('--no-pretrained', action='store_true',
                        help='drop the published initialisation (nothing is downloaded)')
    args = parser.parse_args()
    try:
        study = load_study(args.study)
    except (OSError, ValueError) as err:
        sys.exit(f'error: {err}')
    if args.work_dir:
        study.work_dir = args.work_dir
    cells = study.cells()
    if args.dry_run:
        print('\n'.join(describe(cells)))
        print(f'{len(cells)} cells')
        return
    start = time.time()
    if not args.report_only:
        try:
            check_study(study)
        except (OSError, ValueError) as err:
            sys.exit(f'error: {err}')
        run_cells(study, StageRunner(load_cli_config, train_segmentor, test_segmentor, run_tool,
                                     gpus=args.gpus, amp=args.amp,
                                     pretrained=not args.no_pretrained))
    table, outputs = write_report(study)
    print(table)
    print('written: ' + ', '.join(outputs.values()))
    print(f'study finished in {time.time() - start:.0f} s')


if __name__ == '__main__':
    main()
