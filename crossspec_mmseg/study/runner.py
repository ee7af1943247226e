"""Running a study's cells, as ``tools/run_study.py`` and ``tools/cross_validate.py
run`` both do: each stage trained (resuming), then the cell tested; finished
cells skipped, an interrupted one resumed from its newest complete checkpoint.
A later stage starts from the stage before's last checkpoint. A study
without folds (``folds = None``: each config's own splits) tests a cell on
its last stage's best checkpoint when the config keeps one
(``default_hooks.checkpoint.save_best``: chosen on the config's validation
split); a folded study tests the last one (its validation rows, when a
config validates, are the fold's test rows: choosing on them would be
choosing on the test).

How a stage runs (:class:`StageRunner`): in this process through
``crossspec_mmseg.apis`` (the floor above this one, so the tools hand its
functions in), or with ``gpus > 1`` as torchrun processes of
``tools/train.py`` / ``tools/test.py`` (the tools' launcher).
"""
from __future__ import annotations

import gc
import glob
import json
import os
import os.path as osp
import time
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Tuple

from ..utils import atomic_path
from .plan import Cell, Study, stage_config
from .plots import plot_study
from .summary import collect_scores, markdown_table, summarize

__all__ = ['DONE', 'StageRunner', 'best_checkpoint', 'run_cell', 'run_cells', 'write_report']

DONE = 'stage_done'  # in a stage's work dir: holds the stage's final checkpoint


def say(line: str) -> None:
    """The default ``log``: a line on stdout, at once (runs take minutes)."""
    print(line, flush=True)


@dataclass(frozen=True)
class StageRunner:
    """Trains and tests one stage's config.

    ``load``, ``train``, ``test``: ``crossspec_mmseg.apis.cli.load_cli_config``,
    ``crossspec_mmseg.apis.train_segmentor`` and ``test_segmentor`` (used when
    ``gpus <= 1``); ``launch(tool, gpus, argv)``: runs ``tools/<tool>`` on
    ``gpus`` torchrun processes (``tools/_launch.py``); ``pretrained=False``
    drops the published initialisation (``--no-pretrained``).
    """
    load: Callable
    train: Callable
    test: Callable
    launch: Callable[[str, int, list], None]
    gpus: int = 1
    amp: bool = False
    pretrained: bool = True

    def _flags(self) -> list:
        return [] if self.pretrained else ['--no-pretrained']

    def train_stage(self, config: str, work: str) -> str:
        """Train (resuming) and return the final checkpoint's path."""
        if self.gpus > 1:
            self.launch('train.py', self.gpus, [config, '--work-dir', work, '--resume',
                                                *(['--amp'] if self.amp else []), *self._flags()])
        else:
            cfg = self.load(config, work, None, 'none', pretrained=self.pretrained)
            self.train(cfg, resume=True, amp=self.amp)
            gc.collect()
        with open(osp.join(work, 'last_checkpoint')) as f:
            return f.read().strip()

    def test_stage(self, config: str, checkpoint: str, work: str) -> None:
        """Test ``checkpoint``; the metrics go to ``work/metrics.json``."""
        metrics = osp.join(work, 'metrics.json')
        if self.gpus > 1:
            self.launch('test.py', self.gpus, [config, checkpoint, '--work-dir', work,
                                               '--metrics-out', metrics, *self._flags()])
        else:
            cfg = self.load(config, work, None, 'none', pretrained=self.pretrained)
            self.test(cfg, checkpoint, metrics)
            gc.collect()


def best_checkpoint(work: str) -> Optional[str]:
    """The best checkpoint mmengine kept in ``work`` (``best_<key>_<iter>.pth``
    of ``save_best``; the newest when several keys are kept), or None."""
    kept = glob.glob(osp.join(work, 'best_*.pth'))
    return max(kept, key=osp.getmtime) if kept else None


def run_cell(study: Study, cell: Cell, stages: StageRunner,
             log: Callable[[str], None] = say) -> None:
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
        log(f'   {stage}: {config}')
        checkpoint = stages.train_stage(config, work)
        with atomic_path(done) as tmp, open(tmp, 'w') as f:
            f.write(checkpoint + '\n')
    best = None if study.folded else best_checkpoint(cell.work)
    stages.test_stage(osp.join(cell.work, 'configs', 'train.py'), best or checkpoint, cell.work)


def run_cells(study: Study, stages: StageRunner, log: Callable[[str], None] = say) -> None:
    """Every cell of ``study`` without ``metrics.json``, in order (call
    :func:`~.plan.check_study` first)."""
    cells = study.cells()
    start = time.time()
    for i, cell in enumerate(cells, 1):
        if osp.isfile(osp.join(cell.work, 'metrics.json')):
            log(f'[{i}/{len(cells)}] {cell.run.name} {cell.replicate}: done, skipped')
            continue
        log(f'[{i}/{len(cells)}] {cell.run.name} {cell.replicate} '
            f'({time.time() - start:.0f} s so far)')
        run_cell(study, cell, stages, log)


def write_report(study: Study) -> Tuple[str, Dict[str, str]]:
    """``study.json``, ``study.md`` (the table) and ``study.png`` in the study's
    work dir from its finished cells; returns the table and the paths."""
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
    return table, outputs
