"""The StarDist route through the tools (mmengine's runner): the shipped
PanNuke config (as the seeds set it up), shrunk to a tiny ResNet on synthetic
PanNuke, CoNSeP and MoNuSAC downloads run through the real converters at
0.5 um/px, trains a few iterations on PanNuke (tools/train.py, --resume) and
tests on all three with typed nuclei scores, each dataset in its own labels
(tools/test.py, and --tta through StarDistTTAModel)."""
import glob
import json
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from crossspec_mmseg.apis.cli import drop_published_init
from crossspec_mmseg.datasets import dataset_parts
from helpers import REPO, run_tool

CONFIG = osp.join(REPO, 'configs', 'nuclei', 'stardist_r50_pannuke.py')
TYPED_KEYS = ('dataset/pannuke/bPQ', 'dataset/pannuke/mPQ', 'dataset/consep/mPQ+',
              'dataset/monusac/F1d', 'labelset/consep/PQ_fibroblast',
              'labelset/monusac/PQ_lymphocyte')


@pytest.fixture
def one_thread():
    """Tiny convolutions gain nothing from a second thread, and lose much when
    the cores are shared (a CI runner): one thread for the runs, restored after."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    """PanNuke, CoNSeP and MoNuSAC synthetic downloads converted at 0.5 um/px."""
    from crossspec_mmseg.converters.consep import convert_consep
    from crossspec_mmseg.converters.monusac import convert_monusac
    from crossspec_mmseg.converters.pannuke import convert_pannuke
    from crossspec_mmseg.demo.downloads.consep import write_consep_raw
    from crossspec_mmseg.demo.downloads.monusac import write_monusac_raw
    from crossspec_mmseg.demo.downloads.pannuke import write_pannuke_raw
    root = tmp_path_factory.mktemp('stardist_data')
    write_pannuke_raw(str(root / 'raw' / 'pannuke'), patches=3, size=128, seed=0)
    write_consep_raw(str(root / 'raw' / 'consep'), n_train=2, n_test=2, shape=(128, 128),
                     seed=2)
    write_monusac_raw(str(root / 'raw' / 'monusac'))
    convert_pannuke(str(root / 'raw' / 'pannuke'), str(root / 'pannuke'), mpp=0.5)
    convert_consep(str(root / 'raw' / 'consep'), str(root / 'consep'), mpp=0.5)
    convert_monusac(str(root / 'raw' / 'monusac'), str(root / 'monusac'), mpp=0.5)
    return str(root)


def test_the_config_is_the_seeds_set_up():
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    from crossspec_mmseg.structures import LabelTree
    cfg = Config.fromfile(CONFIG)
    head = cfg.model.decode_head
    assert cfg.model.type == 'StarDistSegmentor' and cfg.tta_model.type == 'StarDistTTAModel'
    assert (head.type, head.n_rays, tuple(head.loss_weights)) == ('StarDistHead', 32,
                                                                  (1.0, 0.2, 1.0))
    loss = head.loss_decode
    assert (loss.type, loss.label_tree, loss.gamma, loss.region.type, loss.region.beta) == (
        'HierarchicalFocalDiceLoss', 'nucleus', 0.0, 'tversky', 0.7)
    steps = [t['type'] for t in cfg.train_dataloader.dataset.pipeline]
    assert steps.index('StarDistTargets') > max(steps.index('RandomFlip'),
                                                steps.index('RandomRotFlip'))
    assert steps[-1] == 'PackStarDistInputs'
    init_default_scope('mmseg')
    drop_published_init(cfg.model)
    model = MODELS.build(cfg.model)  # the full ResNet-50, offline
    assert model.num_classes == len(LabelTree.build('nucleus').leaves)
    assert model.out_channels == 1 + 32 + model.num_classes


def shrunk(work_dir, data):
    """The shipped config with a tiny ResNet-18 and decoder, 64 px, 3 iterations,
    three tiles per validation and test dataset."""
    cfg = Config.fromfile(CONFIG)
    drop_published_init(cfg.model)
    bn = dict(type='BN', requires_grad=True)
    cfg.model.backbone.update(depth=18, base_channels=8, stem_channels=8, norm_cfg=bn)
    cfg.model.decode_head.update(in_channels=[8, 16, 32, 64], decoder_channels=(16, 16, 8, 8),
                                 channels=8, norm_cfg=bn)
    cfg.model.data_preprocessor.update(size=(64, 64))
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].update(num_workers=0, persistent_workers=False)
        for part in dataset_parts(cfg[loader].dataset):
            part['data_root'] = osp.join(data, osp.basename(part['data_root']))
            if loader != 'train_dataloader':
                part['indices'] = 3
    cfg.train_dataloader.batch_size = 2
    cfg.train_cfg.update(max_iters=3, val_interval=3)
    cfg.param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False)]
    cfg.default_hooks.checkpoint.update(interval=3)
    cfg.default_hooks.logger.update(interval=1)
    cfg.work_dir = str(work_dir)
    return cfg


@pytest.mark.heavy
def test_trains_resumes_and_tests_through_the_tools(data, tmp_path, one_thread):
    """tools/train.py (2 iterations), --resume to a third, tools/test.py and
    its --tta: typed keys for each dataset in its own labels."""
    cfg = shrunk(tmp_path / 'work', data)
    cfg.train_cfg.update(max_iters=2, val_interval=2)
    cfg.default_hooks.checkpoint.update(interval=1)
    config = str(tmp_path / 'stardist_tiny.py')
    cfg.dump(config)
    work = str(tmp_path / 'work')
    run_tool(['tools/train.py', config, '--work-dir', work], data, fresh=False)
    proc = run_tool(['tools/train.py', config, '--work-dir', work, '--resume',
                     '--cfg-options', 'train_cfg.max_iters=3'], data, fresh=False)
    assert 'resumed' in (proc.stdout + proc.stderr).lower()
    assert osp.isfile(osp.join(work, 'iter_3.pth'))
    logged = set()
    for path in glob.glob(osp.join(work, '*', 'vis_data', 'scalars.json')):
        logged |= {k for line in open(path) for k in json.loads(line)}
    assert {'decode.loss_prob', 'decode.loss_dist', 'decode.loss_hierarchical', 'bPQ',
            'dataset/pannuke/mDice'} <= logged, sorted(logged)

    checkpoint = osp.join(work, 'iter_3.pth')
    scores = {}
    for name, extra in (('plain', []), ('tta', ['--tta'])):
        run_tool(['tools/test.py', config, checkpoint, '--work-dir', str(tmp_path / name),
                  *extra], data, fresh=False)
        scores[name] = json.load(open(tmp_path / name / 'metrics.json'))
        for key in TYPED_KEYS + ('dataset/consep/mDice', 'labelset/monusac/mIoU'):
            assert key in scores[name], (name, key)
        assert all(scores[name][f'dataset/{d}/nuclei'] > 0
                   for d in ('pannuke', 'consep', 'monusac'))
    assert scores['tta']['dataset/monusac/nuclei'] == scores['plain']['dataset/monusac/nuclei']
