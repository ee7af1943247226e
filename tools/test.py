"""Test (and evaluate) a checkpoint: MMSeg's tools/test.py with crossspec_mmseg.

Same flags as MMSeg's (--work-dir, --out, --show, --show-dir, --tta,
--cfg-options, --launcher). The metrics returned by the evaluator are also
written to ``--metrics-out`` (default ``<work_dir>/metrics.json``). Typed
nuclei (``GroupInstanceMetric(types=True)``) get one table per group, each in
its dataset's own labels; ``--nuclei-npy DIR`` also writes predictions and
truths in the PanNuke (``--nuclei-npy-layout pannuke``) or CoNIC (``conic``)
``.npy`` layout, per label set, for the official scripts.
"""
import os
import os.path as osp
import sys

from mmengine.dist import is_main_process

import crossspec_mmseg  # noqa: F401  (registers components, checkpoint safe globals)
from crossspec_mmseg.apis import test_segmentor
from crossspec_mmseg.apis.cli import base_parser, load_cli_config
from crossspec_mmseg.datasets import dataset_parts
from crossspec_mmseg.engine import UnreadableCheckpointError, finish_distributed
from crossspec_mmseg.errors import BadWeightsError
from crossspec_mmseg.evaluation import format_group_table, format_typed_tables
from crossspec_mmseg.evaluation.nuclei_npy import NPY_LAYOUTS


def parse_args():
    parser = base_parser('Test (and evaluate) a segmentor')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', help='directory for predicted masks (PNG)')
    parser.add_argument('--show', action='store_true', help='show predictions')
    parser.add_argument('--show-dir', help='directory for painted predictions')
    parser.add_argument('--wait-time', type=float, default=2, help='show interval (s)')
    parser.add_argument('--tta', action='store_true', help='test-time augmentation')
    parser.add_argument('--metrics-out', help='JSON file for the metrics '
                        '(default: <work_dir>/metrics.json)')
    parser.add_argument('--nuclei-npy', metavar='DIR',
                        help='typed nuclei: also write <DIR>/<label set>/{pred,true}.npy and '
                        'images.csv in the layout of --nuclei-npy-layout')
    parser.add_argument('--nuclei-npy-layout', choices=NPY_LAYOUTS, default='pannuke',
                        help='pannuke: instance ids per type channel + background (PanNuke '
                        "masks.npy, for PanNuke-metrics' run.py); conic: [instance, type] "
                        "(CoNIC labels.npy, for its compute_stats.py)")
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def enable_visualization(cfg, args):
    hook = cfg.default_hooks.get('visualization')
    if hook is None:
        raise RuntimeError("--show/--show-dir need default_hooks.visualization="
                           "dict(type='SegVisualizationHook')")
    hook['draw'] = True
    if args.show:
        hook['show'] = True
        hook['wait_time'] = args.wait_time
    if args.show_dir:
        cfg.visualizer['save_dir'] = args.show_dir


def use_tta(cfg):
    """Test with ``cfg.tta_pipeline`` (on every part of a ConcatDataset) through
    ``cfg.tta_model`` wrapping the model, as MMSeg's test tool does."""
    if 'tta_pipeline' not in cfg or 'tta_model' not in cfg:
        raise SystemExit(f'error: --tta needs tta_pipeline and tta_model in {cfg.filename}; '
                         "inherit configs/_base_/datasets/tiles.py or define them")
    for part in dataset_parts(cfg.test_dataloader.dataset):
        part.pipeline = cfg.tta_pipeline
    cfg.tta_model.module = cfg.model
    cfg.model = cfg.tta_model


def save_predictions(cfg, out):
    """Let the IoU metric(s) of ``cfg.test_evaluator`` (one or a list) write the
    predicted masks to ``out``."""
    evaluators = cfg.test_evaluator
    for evaluator in evaluators if isinstance(evaluators, list) else [evaluators]:
        if evaluator['type'].endswith('IoUMetric'):
            evaluator.update(output_dir=out, keep_results=True)


def export_nuclei_npy(cfg, out, layout):
    """Have the typed instance metric(s) of ``cfg.test_evaluator`` write the
    ``.npy`` layout to ``out``."""
    evaluators = cfg.test_evaluator
    typed = [e for e in (evaluators if isinstance(evaluators, list) else [evaluators])
             if e['type'] == 'GroupInstanceMetric' and e.get('types')]
    if not typed:
        raise SystemExit(f'error: --nuclei-npy needs a GroupInstanceMetric(types=True) in the '
                         f'test_evaluator of {cfg.filename}')
    for evaluator in typed:
        evaluator.update(npy_dir=out, npy_layout=layout)


def main():
    args = parse_args()
    cfg = load_cli_config(args.config, args.work_dir, args.cfg_options, args.launcher,
                          pretrained=not args.no_pretrained)
    if args.show or args.show_dir:
        enable_visualization(cfg, args)
    if args.tta:
        use_tta(cfg)
    if args.out is not None:
        save_predictions(cfg, args.out)
    if args.nuclei_npy:
        export_nuclei_npy(cfg, args.nuclei_npy, args.nuclei_npy_layout)
    out = args.metrics_out or osp.join(cfg.work_dir, 'metrics.json')
    try:
        metrics = test_segmentor(cfg, args.checkpoint, out)
    except (UnreadableCheckpointError, BadWeightsError) as err:
        sys.exit(f'error: {err}')
    if is_main_process():
        if any('/' in k for k in metrics):
            print(format_group_table(metrics))
        typed = format_typed_tables(metrics)
        if typed:
            print('Nucleus types, each dataset in its own labels (%):\n' + typed)
        print(f'metrics written to {out}')
    finish_distributed()


if __name__ == '__main__':
    main()
