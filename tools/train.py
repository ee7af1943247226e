"""Train a segmentor: MMSeg's tools/train.py with crossspec_mmseg registered.

Same flags as MMSeg's (--work-dir, --resume, --amp, --cfg-options,
--launcher). Resume works on torch >= 2.6 and skips a corrupt latest checkpoint,
and ``--launcher pytorch`` runs CPU processes over gloo where there is no GPU.
"""
import os
import sys

import crossspec_mmseg  # noqa: F401  (registers components, checkpoint safe globals)
from crossspec_mmseg.apis import train_segmentor
from crossspec_mmseg.apis.cli import ConfigError, base_parser, load_cli_config
from crossspec_mmseg.engine import (
    StageCheckpointMissing,
    UnreadableCheckpointError,
    finish_distributed,
)
from crossspec_mmseg.errors import BadWeightsError  # e.g. foundation weights not downloaded


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
    try:
        train_segmentor(cfg, resume=args.resume, amp=args.amp)
    except (StageCheckpointMissing, UnreadableCheckpointError, BadWeightsError) as err:
        sys.exit(f'error: {err}')  # e.g. a finetune config run before its pretrain stage
    finish_distributed()


if __name__ == '__main__':
    main()
