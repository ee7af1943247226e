"""Training regimes: each regime config selects what it claims, trains one
iteration, and pretrain -> finetune chains with a frozen encoder."""
import os.path as osp
from collections import Counter

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmseg.registry import DATASETS

import crossspec_mmseg  # noqa: F401
from crossspec_mmseg.datasets import analogous_organs
from helpers import REPO, TINY_CONFIG

EXPECTED = {  # (species, organ) counts over all folds for each regime's training set
    'separate': {('human', 'kidney'): 6},
    'finetune': {('human', 'kidney'): 6},
    'homologous': {('human', 'kidney'): 6, ('mouse', 'kidney'): 8},
    'analogous': {('human', 'kidney'): 6, ('human', 'liver'): 5, ('mouse', 'liver'): 5},
    'combined': {('human', 'kidney'): 6, ('mouse', 'kidney'): 8, ('human', 'liver'): 5,
                 ('mouse', 'liver'): 5},
    'pretrain': {('mouse', 'kidney'): 8},
}


def regime_cfg(mode, data_root, work_dir):
    cfg = Config.fromfile(TINY_CONFIG)
    regime = Config.fromfile(osp.join(REPO, 'configs', '_base_', 'regimes',
                                      f'nuinsseg_kidney_{mode}.py'))
    regime.pop('load_from', None)
    cfg.merge_from_dict(regime.to_dict())
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].update(num_workers=0, persistent_workers=False)
        cfg[loader].dataset.data_root = data_root
        cfg[loader].dataset.filters = {}  # all folds: exact counts below
    cfg.work_dir = work_dir
    cfg.train_cfg.update(max_iters=1, val_interval=1)
    cfg.default_hooks.checkpoint.interval = 1
    return cfg


def test_pairing_table():
    assert analogous_organs('kidney') == {'liver'}
    assert analogous_organs('spleen') == {'thymus', 'tonsile'}
    assert analogous_organs('kidney', pairs=dict(custom=['kidney', 'lung'])) == {'lung'}


@pytest.mark.heavy
@pytest.mark.parametrize('mode', sorted(EXPECTED))
def test_regime_config_selects_and_trains(mode, organs_data, tmp_path):
    cfg = regime_cfg(mode, organs_data, str(tmp_path))
    init_default_scope('mmseg')
    train = DATASETS.build(cfg.train_dataloader.dataset)
    counts = Counter(zip(train.get_group_labels('species'), train.get_group_labels('organ')))
    assert dict(counts) == EXPECTED[mode]
    runner = Runner.from_cfg(cfg)
    runner.train()
    logs = runner.message_hub.log_scalars
    for part in ('human+kidney', 'mouse+kidney', 'human+liver', 'mouse+liver'):
        assert f'val/species+organ/{part}/mDice' in logs
    assert 'val/species+organ/mouse+spleen/mDice' not in logs


@pytest.mark.heavy
def test_pretrain_then_finetune_with_frozen_encoder(organs_data, tmp_path):
    pre = regime_cfg('pretrain', organs_data, str(tmp_path / 'pre'))
    pre.train_cfg.max_iters = 2
    Runner.from_cfg(pre).train()
    checkpoint = str(tmp_path / 'pre' / 'iter_2.pth')
    stage1 = torch.load(checkpoint, map_location='cpu')['state_dict']

    fine = regime_cfg('finetune', organs_data, str(tmp_path / 'fine'))
    fine.model.update(type='CrossSpeciesEncoderDecoder', frozen_modules=['backbone'])  # as shipped
    fine.load_from = checkpoint
    runner = Runner.from_cfg(fine)
    runner.train()
    after = runner.model.state_dict()
    backbone = [k for k, _ in runner.model.named_parameters() if k.startswith('backbone.')]
    head = [k for k, _ in runner.model.named_parameters() if k.startswith('decode_head.')]
    # Frozen encoder: still exactly stage 1's (which also proves stage 2 started from it,
    # as fresh initialisation would differ); the head trained on.
    assert backbone and all(torch.equal(stage1[k], after[k]) for k in backbone)
    assert any(not torch.equal(stage1[k], after[k]) for k in head)
    bn = [k for k in after if k.startswith('backbone.') and k.endswith('running_mean')]
    assert bn and all(torch.equal(stage1[k], after[k]) for k in bn)  # statistics fixed too
