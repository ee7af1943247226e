"""Train a segmentor: MMSeg's tools/train.py with crossspec_mmseg registered.

Same flags as MMSeg's (--work-dir, --resume, --amp, --cfg-options,
--launcher). Resume works on torch >= 2.6 and skips a corrupt latest checkpoint,
and ``--launcher pytorch`` runs CPU processes over gloo where there is no GPU.
"""
import logging
import os
import sys

from mmengine.logging import print_log
from mmengine.runner import Runner
from mmseg.registry import RUNNERS

import crossspec_mmseg  # noqa: F401  (registers components, checkpoint safe globals)
from crossspec_mmseg.engine import StageCheckpointMissing, finish_distributed, resume_checkpoint
from crossspec_mmseg.utils.cli import ConfigError, base_parser, load_cli_config


def parse_args():
    parser = base_parser('Train a segmentor')
    parser.add_argument('--resume', action='store_true',
                        help='resume from the latest complete checkpoint in the work dir')
    parser.add_argument('--amp', action='store_true', help='automatic mixed precision')
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main():
    args = parse_args()
    try:
        cfg = load_cli_config(args.config, args.work_dir, args.cfg_options, args.launcher,
                              pretrained=not args.no_pretrained)
    except ConfigError as err:
        sys.exit(f'error: {err}')
    if args.amp:
        if cfg.optim_wrapper.type == 'AmpOptimWrapper':
            print_log('AMP training is already enabled in your config.', logger='current',
                      level=logging.WARNING)
        else:
            assert cfg.optim_wrapper.type == 'OptimWrapper', (
                f'--amp needs optim_wrapper OptimWrapper, got {cfg.optim_wrapper.type}')
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.loss_scale = 'dynamic'
    if args.resume:  # the newest complete checkpoint (a kill mid-write leaves none corrupt)
        checkpoint = resume_checkpoint(cfg.work_dir)
        cfg.resume = checkpoint is not None
        cfg.load_from = checkpoint or cfg.get('load_from')
    runner = RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg)
    try:
        runner.train()
    except StageCheckpointMissing as err:  # a finetune config run before its pretrain stage
        sys.exit(f'error: {err}')
    finish_distributed()


if __name__ == '__main__':
    main()
