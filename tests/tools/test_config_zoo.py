"""Every config under configs/: loads, builds, trains one iteration and validates
on synthetic converted data (pretrained off, tiny inputs); the zoo and its
table are current; the headline config says what the papers say."""
import glob
import os
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

from crossspec_mmseg.apis.cli import drop_published_init
from crossspec_mmseg.datasets import dataset_parts
from crossspec_mmseg.utils.upstream import runner_load_from
from helpers import REPO, run_tool

CONFIGS = sorted(osp.relpath(p, REPO) for p in glob.glob(
    osp.join(REPO, 'configs', '**', '*.py'), recursive=True)
    if '_base_' not in p and f'{osp.sep}nuclei{osp.sep}' not in p  # test_nuclei_configs.py
    and f'{osp.sep}nuclei_' not in p  # the nuclei demo's: test_demo_nuclei.py
    and f'{osp.sep}foundation{osp.sep}' not in p)  # test_foundation_configs.py


def shrink(cfg, work_dir):
    """Tiny inputs, one iteration and three validation tiles per dataset, from
    scratch (offline); LR-ASPP's fixed 49 px pool needs >= 392 px."""
    drop_published_init(cfg.model)
    size = (400, 400) if cfg.model.decode_head.type == 'LRASPPHead' else (64, 64)
    cfg.model.data_preprocessor.update(size=size, test_cfg=dict(size=size, size_divisor=None))
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].update(num_workers=0, persistent_workers=False)
        if loader != 'train_dataloader':
            for part in dataset_parts(cfg[loader].dataset):
                part['indices'] = 3  # a few tiles of each dataset (of each species)
    cfg.train_dataloader.batch_size = 2
    if 'batch_size' in cfg.train_dataloader.sampler:
        cfg.train_dataloader.sampler.batch_size = 2
    cfg.train_cfg.update(max_iters=1, val_interval=1)
    cfg.default_hooks.checkpoint.interval = 1
    cfg.work_dir = work_dir
    return cfg


def train_shrunk(path, keep_checkpoint):
    """Train a config shrunk, into its default work dir (``work_dirs/<name>``)."""
    work_dir = osp.join('work_dirs', osp.splitext(osp.basename(path))[0])
    cfg = shrink(Config.fromfile(osp.join(REPO, path)), work_dir)
    assert cfg.model.get('pretrained') is None and cfg.model.backbone.get('init_cfg') is None
    if not keep_checkpoint:  # skip writing (and fsyncing) a ResNet-50's checkpoint
        cfg.default_hooks.checkpoint.update(interval=2, save_last=False)
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


def stage1_of(path):
    """The pretrain config a finetune config starts from (any other config: itself)."""
    return path.replace('_finetune.py', '_pretrain.py')


@pytest.fixture(scope='module')
def trained(zoo_data):
    """``trained(path)``: what the tests read from a config's shrunk training
    (its logged keys, the checkpoint it started from, its last checkpoint),
    trained once per module when a test first asks, into
    ``<zoo_data>/work_dirs/<config name>``. What one training needs of another
    is here, not in the tests' order: a finetune config's stage 1 trains first
    (the finetune config finds it there by itself); checkpoints are kept for
    stage 1s and the TTA test's configs only."""
    done = {}

    def train(path):
        if path in done:
            return done[path]
        if stage1_of(path) != path:
            train(stage1_of(path))
        old = os.getcwd()
        os.chdir(zoo_data)  # configs keep their default data roots under data/
        try:
            keep = path.endswith('_pretrain.py') or path in TTA_CONFIGS
            runner = train_shrunk(path, keep_checkpoint=keep)
            load_from = runner_load_from(runner)
            last = osp.join(runner.work_dir, 'last_checkpoint')
            done[path] = dict(logs=set(runner.message_hub.log_scalars),
                              load_from=load_from and osp.abspath(load_from),
                              checkpoint=open(last).read().strip() if keep else None)
        finally:
            os.chdir(old)
        return done[path]
    return train


#: Regimes that differ from 'combined' only in the rows they select: their configs
#: train in `make test-all` (slow); each family's combined and finetune (with its
#: pretrain stage) configs train in `make test` too.
SELECTION_VARIANTS = ('_separate.py', '_homologous.py', '_analogous.py')


@pytest.mark.heavy
@pytest.mark.parametrize('path', [
    pytest.param(p, marks=pytest.mark.slow) if p.endswith(SELECTION_VARIANTS) else p
    for p in CONFIGS])
def test_config_trains_and_validates(path, trained, zoo_data):
    run = trained(path)
    if stage1_of(path) != path:  # the shipped finetune config found stage 1 by itself
        stage1_dir = osp.join(zoo_data, 'work_dirs', osp.basename(stage1_of(path))[:-3])
        assert osp.dirname(run['load_from']) == stage1_dir
    assert 'train/loss' in run['logs'] and 'val/mDice' in run['logs']
    assert any(k.startswith('val/species') for k in run['logs'])


@pytest.mark.heavy
@pytest.mark.slow  # reads every config (about 50 s)
def test_zoo_and_table_are_current():
    for tool in ('tools/generate_configs.py', 'tools/config_table.py'):
        proc = run_tool([tool, '--check'], '', check=False, fresh=False)
        assert proc.returncode == 0, proc.stderr[-2000:]


def test_headline_config_matches_the_papers():
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'crossspec', 'deeplabv3plus_combined.py'))
    model = cfg.model
    assert model.type == 'CrossSpeciesEncoderDecoder'
    assert (model.backbone.type, model.backbone.depth) == ('ResNetV1c', 50)
    assert model.decode_head.type == 'DepthwiseSeparableASPPHead'
    assert model.decode_head.num_classes == model.auxiliary_head.num_classes == 2
    assert model.pretrained == 'open-mmlab://resnet50_v1c'  # published initialisation kept
    # Joint loss L_t = 0.75 * w_i * Focal + 1.0 * Dice, human weighted 2.5 (NuInsSeg kidney).
    loss = model.decode_head.loss_decode[0]
    assert (loss.type, loss.gamma, loss.lambda_focal, loss.lambda_dice) == (
        'FocalDiceLoss', 2.0, 0.75, 1.0)
    assert model.sample_weight == dict(human=2.5, mouse=1.0)
    sampler = cfg.train_dataloader.sampler
    assert sampler.type == 'CrossSpeciesMixedSampler' and sampler.ratios == dict(human=1, mouse=1)
    assert cfg.train_dataloader.batch_size == sampler.batch_size == 4
    # SGD momentum 0.9, weight decay 1e-4, lr 1e-3, cosine decay to 0.01x.
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.lr, opt.momentum, opt.weight_decay) == ('SGD', 1e-3, 0.9, 1e-4)
    (schedule,) = cfg.param_scheduler
    assert schedule.type == 'CosineAnnealingLR' and schedule.eta_min_ratio == 0.01
    assert cfg.train_cfg.max_iters == schedule.end == 20000
    assert cfg.train_dataloader.dataset.regime == dict(
        mode='combined', target=dict(species='human', organ='kidney'))


TTA_CONFIGS = ['configs/demo/deeplabv3plus_r18-d8_demo.py',  # one per family and the demo
               'configs/crossspec/deeplabv3plus_separate.py',
               'configs/crossspec/glomeruli_segnext_separate.py',
               'configs/crossspec/kidney-layers_deeplabv3plus-mobilenetv2_combined.py']


@pytest.mark.heavy
@pytest.mark.parametrize('path', TTA_CONFIGS)
def test_test_tool_tta_keeps_groups(path, trained, zoo_data, tmp_path):
    """`tools/test.py CONFIG CKPT --tta`: flips (and scales) merged, still per group."""
    import json
    checkpoint = trained(path)['checkpoint']
    cfg = shrink(Config.fromfile(osp.join(REPO, path)), str(tmp_path))
    assert cfg.tta_model.type == 'ProbabilityTTAModel'  # keeps the merged probabilities
    config = str(tmp_path / f'{osp.splitext(osp.basename(path))[0]}.py')
    cfg.dump(config)
    run_tool(['tools/test.py', config, checkpoint, '--tta', '--work-dir', str(tmp_path)],
             zoo_data, cwd=zoo_data, fresh=False)
    metrics = json.load(open(tmp_path / 'metrics.json'))
    assert 'mDice' in metrics
    assert any(k.startswith('species/') for k in metrics), sorted(metrics)
