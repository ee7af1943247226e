"""Cost of the package's training components against stock MMSeg, one CPU process.

    python benchmarks/train_overhead.py [--data data/demo/nuinsseg] [--iters 60] [--rounds 2]

Both runs train the demo's DeepLabV3+ (ResNet-18, batch 8 x 128 px, from
scratch) on the same converted demo data (`make demo` writes it) through the
mmengine runner, one after the other, alternating ``--rounds`` times:

- stock: ``EncoderDecoder`` + ``CrossEntropyLoss`` + ``InfiniteSampler``;
- ours: ``CrossSpeciesEncoderDecoder`` (species weights) + ``FocalDiceLoss`` +
  ``CrossSpeciesMixedSampler`` (1:1 species) + ``GroupCountHook``.

Prints the median iteration time of each (the first 10 iterations are warm-up)
and the ratio. Goal: ours at most 5 % slower.
"""
from __future__ import annotations

import argparse
import os.path as osp
import statistics
import tempfile

from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

import crossspec_mmseg  # noqa: F401

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEMO = osp.join(REPO, 'configs', 'demo', 'deeplabv3plus_r18-d8_demo.py')
WARMUP = 10


def config(kind: str, data: str, iters: int, work_dir: str) -> Config:
    cfg = Config.fromfile(DEMO)
    cfg.work_dir = work_dir
    cfg.train_dataloader.dataset.data_root = data
    cfg.train_cfg.update(max_iters=iters, val_interval=iters + 1)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.default_hooks.checkpoint.interval = iters + 1
    cfg.default_hooks.logger.interval = iters + 1
    cfg.param_scheduler = []
    if kind == 'stock':
        cfg.model.type = 'EncoderDecoder'
        for head, weight in ((cfg.model.decode_head, 1.0), (cfg.model.auxiliary_head, 0.4)):
            head.loss_decode = dict(type='CrossEntropyLoss', use_sigmoid=False,
                                    loss_weight=weight)
    else:
        cfg.model.sample_weight = dict(human=2.5, mouse=1.0)
        for head, (focal, dice) in ((cfg.model.decode_head, (0.75, 1.0)),
                                    (cfg.model.auxiliary_head, (0.3, 0.4))):
            head.loss_decode = dict(type='FocalDiceLoss', gamma=2.0, lambda_focal=focal,
                                    lambda_dice=dice)
        cfg.train_dataloader.sampler = dict(type='CrossSpeciesMixedSampler', batch_size=8,
                                            mix_by='species', ratios=dict(human=1, mouse=1))
        cfg.custom_hooks = [dict(type='GroupCountHook', keys=('species',))]
    return cfg


class IterationTimes(Hook):
    """Collects IterTimerHook's time of every training iteration."""

    priority = 'LOWEST'

    def __init__(self) -> None:
        self.times = []

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self.times.append(runner.message_hub.get_scalar('train/time').current())


def iteration_times(cfg: Config) -> list:
    init_default_scope('mmseg')
    runner = Runner.from_cfg(cfg)
    recorder = IterationTimes()
    runner.register_hook(recorder)
    runner.train()
    return recorder.times[WARMUP:]


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--data', default=osp.join(REPO, 'data', 'demo', 'nuinsseg'))
    parser.add_argument('--iters', type=int, default=60)
    parser.add_argument('--rounds', type=int, default=2)
    args = parser.parse_args()
    if not osp.isfile(osp.join(args.data, 'manifest.csv')):
        raise SystemExit(f'error: no converted demo data in {args.data}; run `make demo` first')
    times = {'stock': [], 'ours': []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for kind in times:
                times[kind] += iteration_times(
                    config(kind, args.data, args.iters, osp.join(tmp, f'{kind}{r}')))
    median = {k: statistics.median(v) for k, v in times.items()}
    print(f"{'components':<60} {'s/iter (median)':>16}")
    print(f"{'stock: EncoderDecoder + CrossEntropyLoss + InfiniteSampler':<60} "
          f"{median['stock']:>16.4f}")
    print(f"{'ours: CrossSpeciesEncoderDecoder + FocalDiceLoss + MixedSampler + hook':<60} "
          f"{median['ours']:>16.4f}")
    print(f"ours / stock = {median['ours'] / median['stock']:.3f} "
          f"({len(times['ours'])} + {len(times['stock'])} timed iterations)")


if __name__ == '__main__':
    main()
