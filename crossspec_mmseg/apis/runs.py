"""One training or test run of a config already loaded by
:func:`crossspec_mmseg.apis.cli.load_cli_config` (the caller ends a
distributed run with :func:`crossspec_mmseg.engine.finish_distributed`)."""
from __future__ import annotations

import json
import logging
import os.path as osp

from mmengine.config import Config
from mmengine.dist import is_main_process
from mmengine.logging import print_log
from mmengine.runner import Runner
from mmengine.utils import mkdir_or_exist
from mmseg.registry import RUNNERS

from ..engine import resume_checkpoint
from ..utils import atomic_path


def train_segmentor(cfg: Config, resume: bool = False, amp: bool = False) -> None:
    """Train ``cfg`` in ``cfg.work_dir``.

    ``resume``: from the newest complete checkpoint there (a kill mid-write
    leaves none corrupt), else from ``cfg.load_from`` (or scratch). ``amp``:
    mixed precision (``AmpOptimWrapper`` with a dynamic loss scale).
    """
    if amp:
        if cfg.optim_wrapper.type == 'AmpOptimWrapper':
            print_log('AMP training is already enabled in your config.', logger='current',
                      level=logging.WARNING)
        else:
            assert cfg.optim_wrapper.type == 'OptimWrapper', (
                f'--amp needs optim_wrapper OptimWrapper, got {cfg.optim_wrapper.type}')
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.loss_scale = 'dynamic'
    if resume:
        checkpoint = resume_checkpoint(cfg.work_dir)
        cfg.resume = checkpoint is not None
        cfg.load_from = checkpoint or cfg.get('load_from')
    runner = RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg)
    runner.train()


def test_segmentor(cfg: Config, checkpoint: str, metrics_out: str) -> dict:
    """Test ``checkpoint`` on ``cfg.test_dataloader``; the main process writes
    the metrics to ``metrics_out`` (JSON, atomically)."""
    cfg.load_from = checkpoint
    metrics = Runner.from_cfg(cfg).test()
    if is_main_process():
        mkdir_or_exist(osp.dirname(osp.abspath(metrics_out)))
        with atomic_path(metrics_out) as tmp, open(tmp, 'w') as f:
            json.dump(metrics, f, indent=1, sort_keys=True)
    return metrics
