"""Record how many samples of each group (species, dataset...) each rank trained on."""
from __future__ import annotations

import json
import os.path as osp
from collections import Counter
from typing import Optional, Sequence

from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmseg.registry import HOOKS

from ..utils.atomic import atomic_path

__all__ = ['GroupCountHook']


@HOOKS.register_module()
class GroupCountHook(Hook):
    """Counts training samples per metainfo value and writes, per rank,
    ``<work_dir>/group_counts_rank<r>.json`` at the end of training (and logs it).

    Args:
        keys: Metainfo keys to count, e.g. ``('species', 'dataset')``.
    """

    priority = 'LOW'

    def __init__(self, keys: Sequence[str] = ('species',)) -> None:
        self.keys = tuple(keys)
        self.counts = {k: Counter() for k in self.keys}

    def after_train_iter(self, runner, batch_idx: int, data_batch: Optional[dict] = None,
                         outputs=None) -> None:
        for sample in (data_batch or {}).get('data_samples', []):
            for key in self.keys:
                self.counts[key][str(sample.metainfo.get(key))] += 1

    def after_train(self, runner) -> None:
        rank = get_rank()
        counts = {k: dict(sorted(c.items())) for k, c in self.counts.items()}
        print_log(f'rank {rank} trained on {counts}', logger='current')
        path = osp.join(runner.work_dir, f'group_counts_rank{rank}.json')
        with atomic_path(path) as tmp, open(tmp, 'w') as f:
            json.dump(counts, f, indent=1)
