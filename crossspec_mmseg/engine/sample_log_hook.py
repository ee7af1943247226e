"""Record which samples every training iteration drew, per rank."""
from __future__ import annotations

import json
import os.path as osp
from typing import Optional

from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmseg.registry import HOOKS

__all__ = ['SampleLogHook']


@HOOKS.register_module()
class SampleLogHook(Hook):
    """Appends ``{"iter": i, "samples": [image file names]}`` per iteration to
    ``<work_dir>/samples_rank<r>.jsonl``: an audit trail of the data stream
    (a resumed run continues the same file, so the stream can be compared
    with an uninterrupted run's)."""

    priority = 'LOW'

    def after_train_iter(self, runner, batch_idx: int, data_batch: Optional[dict] = None,
                         outputs=None) -> None:
        samples = [osp.basename(s.metainfo.get('img_path', ''))
                   for s in (data_batch or {}).get('data_samples', [])]
        path = osp.join(runner.work_dir, f'samples_rank{get_rank()}.jsonl')
        with open(path, 'a') as f:
            f.write(json.dumps(dict(iter=runner.iter + 1, samples=samples)) + '\n')
