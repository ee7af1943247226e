"""Species weights counted on the training set by a hook (config -> runner), not in the model."""
import os.path as osp
from collections import Counter

import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

import crossspec_mmseg  # noqa: F401
from crossspec_mmseg.datasets import weights_from_manifest
from crossspec_mmseg.structures import read_manifest
from helpers import TINY_CONFIG


def test_hook_weights_the_training_rows_and_logs_them(demo_data, tmp_path, monkeypatch):
    monkeypatch.setenv('CROSSSPEC_DATA', demo_data)
    cfg = Config.fromfile(TINY_CONFIG)
    cfg.work_dir = str(tmp_path)
    cfg.train_cfg.update(max_iters=1, val_interval=100)
    cfg.custom_hooks = [dict(type='InverseFrequencyWeightHook', by='species', max_weight=9)]
    init_default_scope('mmseg')
    runner = Runner.from_cfg(cfg)
    assert runner.model.sample_weight is None  # building the model reads no data
    runner.train()

    train_folds = set(cfg.train_dataloader.dataset.filters['fold'])
    counts = Counter(row['species'] for row in read_manifest(osp.join(demo_data, 'manifest.csv'))
                     if row['fold'] in train_folds)
    top = max(counts.values())
    expected = {species: min(top / n, 9) for species, n in counts.items()}
    assert runner.model.sample_weight == pytest.approx(expected)
    assert max(expected.values()) > 1  # the fixture's species are unbalanced in training
    log = open(osp.join(runner.log_dir, f'{runner.timestamp}.log')).read()
    assert 'inverse-frequency sample weights' in log


def test_hook_needs_the_cross_species_segmentor(demo_data, tmp_path, monkeypatch):
    monkeypatch.setenv('CROSSSPEC_DATA', demo_data)
    cfg = Config.fromfile(TINY_CONFIG)
    cfg.work_dir = str(tmp_path)
    cfg.model.type = 'EncoderDecoder'
    cfg.custom_hooks = [dict(type='InverseFrequencyWeightHook')]
    init_default_scope('mmseg')
    with pytest.raises(TypeError, match='CrossSpeciesEncoderDecoder'):
        Runner.from_cfg(cfg).train()


def test_manifest_form_is_deprecated_but_works(demo_data):
    from mmseg.registry import MODELS
    cfg = Config.fromfile(TINY_CONFIG).model
    manifest = osp.join(demo_data, 'manifest.csv')
    cfg.sample_weight = dict(type='inverse_frequency', manifest=manifest, column='species')
    init_default_scope('mmseg')
    with pytest.deprecated_call():
        model = MODELS.build(cfg)
    assert model.sample_weight == weights_from_manifest(manifest, 'species')
