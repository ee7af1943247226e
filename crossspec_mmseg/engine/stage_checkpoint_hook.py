"""Start stage 2 of pretrain -> finetune from stage 1's checkpoint, found by itself."""
from __future__ import annotations

import os.path as osp

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmseg.registry import HOOKS

from ..utils.upstream import runner_load_from, runner_resumes, set_runner_load_from
from .safe_resume import resume_checkpoint

__all__ = ['InitFromStageHook', 'StageCheckpointMissing']


class StageCheckpointMissing(FileNotFoundError):
    """Stage 1 has left no complete checkpoint where stage 2 looks for it."""


@HOOKS.register_module()
class InitFromStageHook(Hook):
    """Load the newest complete checkpoint of an earlier stage's work dir
    (what its ``last_checkpoint`` names) when the run has no ``load_from``.

    Runs at ``before_run``, before mmengine loads ``load_from``; an explicit
    ``load_from`` (``--cfg-options load_from=PATH``) or a resumed run is left
    alone.

    Args:
        work_dir: Stage 1's work dir, e.g. ``work_dirs/deeplabv3plus_pretrain``
            (the default of ``tools/train.py`` for that config), relative to
            the current directory.
        config: Stage 1's config, for the error message.
    """

    priority = 'VERY_HIGH'

    def __init__(self, work_dir: str, config: str = '') -> None:
        self.work_dir, self.config = work_dir, config

    def before_run(self, runner) -> None:
        if runner_load_from(runner) is not None or runner_resumes(runner):
            return
        checkpoint = resume_checkpoint(self.work_dir)
        if checkpoint is None:
            stage1 = self.config or 'the pretrain config'
            raise StageCheckpointMissing(
                f'no stage-1 checkpoint in {osp.abspath(self.work_dir)}: train {stage1} first, '
                'or pass --cfg-options load_from=PATH/TO/STAGE1.pth')
        print_log(f'starting from stage 1: {checkpoint}', logger='current')
        set_runner_load_from(runner, checkpoint)
