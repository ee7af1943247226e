"""configs/foundation/: the shipped configs with tiny encoders of each preset's
structure, whose "published" weights files the tests write where the configs
look for them (``checkpoints/<preset>/<file>``)."""
import glob
import json
import os
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from crossspec_mmseg.datasets import dataset_parts
from crossspec_mmseg.models.backbones import FoundationViT, get_preset
from crossspec_mmseg.models.backbones.foundation_vit import decode_reference
from crossspec_mmseg.utils.upstream import runner_load_from
from helpers import REPO, run_tool

#: The UPerNet configs (the nuclei-types ones: tests/configs/test_nuclei_configs.py).
CONFIGS = sorted(osp.relpath(p, REPO) for p in glob.glob(
    osp.join(REPO, 'configs', 'foundation', '*_upernet_*.py')))
WIDTH, DEPTH = 48, 4
#: What shrinks a shipped config's encoder, neck, heads and loaders (the weights file stays).
TINY = {
    'model.backbone.arch': dict(depth=DEPTH, embed_dim=WIDTH, num_heads=2),
    'model.backbone.out_indices': [0, 1, 2, 3], 'model.neck.embed_dim': WIDTH,
    'model.decode_head.in_channels': [WIDTH] * 4, 'model.decode_head.channels': 16,
    'model.auxiliary_head.in_channels': WIDTH, 'model.auxiliary_head.channels': 8,
    'model.data_preprocessor.size': [64, 64],
    'model.data_preprocessor.test_cfg': dict(size=[64, 64]),
    'train_dataloader.batch_size': 2, 'train_cfg.val_interval': 2,
    'default_hooks.checkpoint.interval': 1, 'default_hooks.logger.interval': 1,
    **{f'{loader}_dataloader.{key}': value for loader in ('train', 'val', 'test')
       for key, value in (('num_workers', 0), ('persistent_workers', False))},
}


def cli(value):
    """``value`` as MMSeg's ``--cfg-options`` reads it."""
    if isinstance(value, dict):
        return ','.join(f'{k}={cli(v)}' for k, v in value.items())
    if isinstance(value, list):
        return '[' + ','.join(map(cli, value)) + ']'
    return str(value)


TINY_OPTIONS = [f'{k}={cli(v)}' for k, v in TINY.items() if not isinstance(v, dict)] + [
    f'{k}.{kk}={cli(vv)}' for k, v in TINY.items() if isinstance(v, dict) for kk, vv in v.items()]


def tiny_encoder(preset, seed=0):
    torch.manual_seed(seed)
    return FoundationViT(preset, arch=dict(depth=DEPTH, embed_dim=WIDTH, num_heads=2))


@pytest.fixture(scope='module')
def workdir(zoo_data):
    """The zoo's data, NuInsSeg also as the configs' 0.5 um/px root, and a tiny
    "published" weights file per preset under checkpoints/."""
    data = osp.join(zoo_data, 'data')
    if not osp.exists(osp.join(data, 'nuinsseg_mpp0.5')):
        os.symlink(os.readlink(osp.join(data, 'nuinsseg')), osp.join(data, 'nuinsseg_mpp0.5'))
    for preset in ('uni', 'virchow2', 'hoptimus0'):
        path = osp.join(zoo_data, 'checkpoints', preset, get_preset(preset).weights_file)
        os.makedirs(osp.dirname(path), exist_ok=True)
        torch.save(tiny_encoder(preset).encoder.state_dict(), path)
    return str(zoo_data)


def test_table_and_configs_are_current():
    proc = run_tool(['tools/generate_foundation_configs.py', '--check'], '', check=False,
                    fresh=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize('path', CONFIGS)
def test_config_names_preset_weights_and_normalisation(path):
    cfg = Config.fromfile(osp.join(REPO, path))
    backbone = cfg.model.backbone
    preset = get_preset(backbone.preset)
    assert backbone.type == 'FoundationViT' and cfg.model.neck.type == 'Feature2Pyramid'
    assert cfg.model.decode_head.type == 'UPerHead'
    assert backbone.weights == f'checkpoints/{preset.name}/{preset.weights_file}'
    np.testing.assert_allclose(cfg.model.data_preprocessor.mean, np.array(preset.mean) * 255,
                               atol=1e-3)
    np.testing.assert_allclose(cfg.model.data_preprocessor.std, np.array(preset.std) * 255,
                               atol=1e-3)
    if 'nuinsseg' in path:
        assert cfg.train_mpp == preset.mpp
        assert cfg.train_dataloader.dataset.data_root == f'data/nuinsseg_mpp{preset.mpp}'
    assert path.split('/')[-1].split('_')[0].split('-')[1] == backbone.tuning


def test_missing_weights_stop_training_with_one_line(tmp_path):
    config = osp.join(REPO, 'configs/foundation/uni-lora_upernet_nuinsseg-kidney_combined.py')
    proc = run_tool(['tools/train.py', config, '--work-dir', str(tmp_path / 'w')], '',
                    cwd=str(tmp_path), check=False, fresh=False)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith('error: ') and 'checkpoints/uni/pytorch_model.bin' in last
    assert 'https://huggingface.co/MahmoodLab/UNI' in last


@pytest.mark.heavy
def test_lora_config_trains_resumes_tests_and_reads_a_slide(workdir, tmp_path):
    """The user's path: tools/train.py, --resume (tools/dist_train.sh, 2 CPU
    processes), tools/test.py, infer_slide.py."""
    import tifffile
    config = 'configs/foundation/uni-lora_upernet_nuinsseg-kidney_combined.py'
    work = str(tmp_path / 'run')
    run_tool(['tools/train.py', osp.join(REPO, config), '--work-dir', work, '--cfg-options',
              *TINY_OPTIONS, 'train_cfg.max_iters=2'], workdir, cwd=workdir)
    checkpoint = torch.load(osp.join(work, 'iter_2.pth'), map_location='cpu', weights_only=False)
    state = checkpoint['state_dict']
    lora = [k for k in state if 'lora_' in k]
    assert len(lora) == DEPTH * 2 * 2  # A and B on qkv and proj of each block
    assert not any(k.startswith('backbone.encoder.') and 'lora_' not in k for k in state)
    reference = decode_reference(state['backbone._extra_state'])
    assert reference['weights'] == 'checkpoints/uni/pytorch_model.bin'
    assert any(k.startswith('decode_head.') for k in state)
    # resume to iteration 3 on two CPU processes (DDP over the adapters and heads only)
    proc = run_tool(['tools/dist_train.sh', osp.join(REPO, config), '2', '--work-dir', work,
                     '--resume', '--cfg-options', *TINY_OPTIONS, 'train_cfg.max_iters=3'],
                    workdir, cwd=workdir)
    assert 'Distributed training: True' in proc.stdout + proc.stderr
    resumed = torch.load(osp.join(work, 'iter_3.pth'), map_location='cpu', weights_only=False)
    assert resumed['meta']['iter'] == 3 and set(resumed['state_dict']) == set(state)
    assert not all(torch.equal(resumed['state_dict'][k], state[k]) for k in lora)
    proc = run_tool(['tools/test.py', osp.join(REPO, config), osp.join(work, 'iter_3.pth'),
                     '--work-dir', str(tmp_path / 'test'), '--cfg-options', *TINY_OPTIONS],
                    workdir, cwd=workdir)
    assert 'species/human' in proc.stdout + proc.stderr
    rgb = np.random.default_rng(0).integers(0, 255, (96, 128, 3), np.uint8)
    tifffile.imwrite(tmp_path / 'slide.tif', rgb, photometric='rgb')
    out = tmp_path / 'pred' / 'slide.tif'
    run_tool(['tools/infer_slide.py', osp.join(REPO, config), osp.join(work, 'iter_3.pth'),
              str(tmp_path / 'slide.tif'), '--out', str(out), '--tile', '64',
              '--cfg-options', *TINY_OPTIONS], workdir, cwd=workdir)
    assert tifffile.imread(out).shape == (96, 128)


def shrunk(path, work_dir):
    cfg = Config.fromfile(osp.join(REPO, path))
    cfg.merge_from_dict(TINY)
    for loader in ('val_dataloader', 'test_dataloader'):
        for part in dataset_parts(cfg[loader].dataset):
            part['indices'] = 3
    if cfg.train_dataloader.sampler.type == 'CrossSpeciesMixedSampler':
        cfg.train_dataloader.sampler.batch_size = 2  # the tools take the loader's
    cfg.train_cfg.update(max_iters=1, val_interval=1)
    cfg.work_dir = work_dir
    return cfg


@pytest.mark.slow
@pytest.mark.parametrize('path', CONFIGS)
def test_every_config_trains_an_iteration(path, workdir):
    """Each config, in its regime, one iteration (a finetune config from its
    stage 1, found by the shipped InitFromStageHook)."""
    old = os.getcwd()
    os.chdir(workdir)
    try:
        stage1 = path.replace('_finetune.py', '_pretrain.py')
        if stage1 != path:
            Runner.from_cfg(shrunk(stage1, f'work_dirs/{osp.basename(stage1)[:-3]}')).train()
        runner = Runner.from_cfg(shrunk(path, f'work_dirs/{osp.basename(path)[:-3]}'))
        runner.train()
        assert 'val/mDice' in runner.message_hub.log_scalars
        if stage1 != path:
            assert 'pretrain' in runner_load_from(runner)
    finally:
        os.chdir(old)
    trainable = {n for n, p in runner.model.named_parameters() if p.requires_grad}
    encoder = {n for n in trainable if n.startswith('backbone.encoder.')}
    if '-frozen_' in path or path.endswith('_finetune.py'):
        assert not encoder
    elif '-lora_' in path:
        assert encoder and all('lora_' in n for n in encoder)
    else:
        assert len(encoder) == len(list(runner.model.backbone.encoder.parameters()))
    saved = runner.model.state_dict()  # adapters saved, even frozen in a finetune stage
    assert any('lora_' in k for k in saved) == ('-lora_' in path)
    json.dumps(runner.cfg.model.backbone.to_dict())  # plain values only
