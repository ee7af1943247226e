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
import gc
import json
import os
import os.path as osp
import sys
import time

from _launch import run_tool

import crossspec_mmseg  # noqa: F401  (registers components, checkpoint safe globals)
from crossspec_mmseg.apis import test_segmentor, train_segmentor
from crossspec_mmseg.study import check_study, load_study, stage_config
from crossspec_mmseg.study.plan import describe
from crossspec_mmseg.study.plots import plot_study
from crossspec_mmseg.study.summary import collect_scores, markdown_table, summarize
from crossspec_mmseg.utils import atomic_path
from crossspec_mmseg.utils.cli import load_cli_config

DONE = 'stage_done'  # holds the stage's final checkpoint


def train_stage(config: str, work: str, args) -> str:
    """Train (resuming) and return the final checkpoint's path."""
    if args.gpus > 1:
        run_tool('train.py', args.gpus, [config, '--work-dir', work, '--resume',
                                         *(['--amp'] if args.amp else []),
                                         *(['--no-pretrained'] if args.no_pretrained else [])])
    else:
        cfg = load_cli_config(config, work, None, 'none', pretrained=not args.no_pretrained)
        train_segmentor(cfg, resume=True, amp=args.amp)
        gc.collect()
    with open(osp.join(work, 'last_checkpoint')) as f:
        return f.read().strip()


def test_stage(config: str, checkpoint: str, work: str, args) -> None:
    metrics = osp.join(work, 'metrics.json')
    if args.gpus > 1:
        run_tool('test.py', args.gpus, [config, checkpoint, '--work-dir', work,
                                        '--metrics-out', metrics,
                                        *(['--no-pretrained'] if args.no_pretrained else [])])
    else:
        cfg = load_cli_config(config, work, None, 'none', pretrained=not args.no_pretrained)
        test_segmentor(cfg, checkpoint, metrics)
        gc.collect()


def run_cell(study, cell, args) -> None:
    """Every stage of ``cell`` not done yet, then its test."""
    checkpoint = None
    for stage in cell.stages:
        work = osp.join(cell.work, stage) if stage == 'pretrain' else cell.work
        done = osp.join(work, DONE)
        if osp.isfile(done):
            with open(done) as f:
                checkpoint = f.read().strip()
            continue
        config = stage_config(study, cell, stage, load_from=checkpoint)
        print(f'   {stage}: {config}', flush=True)
        checkpoint = train_stage(config, work, args)
        with atomic_path(done) as tmp, open(tmp, 'w') as f:
            f.write(checkpoint + '\n')
    test_stage(osp.join(cell.work, 'configs', 'train.py'), checkpoint, cell.work, args)


def report(study) -> None:
    summary = summarize(study, collect_scores(study))
    os.makedirs(study.work_dir, exist_ok=True)
    outputs = {name: osp.join(study.work_dir, name)
               for name in ('study.json', 'study.md', 'study.png')}
    with atomic_path(outputs['study.json']) as tmp, open(tmp, 'w') as f:
        json.dump(summary, f, indent=1)
    table = markdown_table(summary)
    with atomic_path(outputs['study.md']) as tmp, open(tmp, 'w') as f:
        f.write(table)
    plot_study(summary, outputs['study.png'])
    print(table)
    print('written: ' + ', '.join(outputs.values()))


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
    for i, cell in enumerate([] if args.report_only else cells, 1):
        if osp.isfile(osp.join(cell.work, 'metrics.json')):
            print(f'[{i}/{len(cells)}] {cell.run.name} {cell.replicate}: done, skipped')
            continue
        print(f'[{i}/{len(cells)}] {cell.run.name} {cell.replicate} '
              f'({time.time() - start:.0f} s so far)', flush=True)
        run_cell(study, cell, args)
    report(study)
    print(f'study finished in {time.time() - start:.0f} s')


if __name__ == '__main__':
    main()
