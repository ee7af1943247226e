"""CLI config set-up: pinned loader memory on GPU hosts only, sampler batch size,
one visualizer per run."""
from unittest import mock

import pytest
from mmengine.config import Config

from crossspec_mmseg.apis.cli import (
    ConfigError,
    load_cli_config,
    pin_loader_memory,
    sync_sampler_batch_size,
)


def loaders(**train):
    return Config(dict(train_dataloader=dict(batch_size=4, **train),
                       val_dataloader=dict(batch_size=1),
                       test_dataloader=dict(batch_size=1, pin_memory=False)))


@pytest.mark.parametrize('cuda', [True, False])
def test_loaders_pin_memory_only_with_cuda(cuda):
    cfg = loaders()
    with mock.patch('torch.cuda.is_available', return_value=cuda):
        pin_loader_memory(cfg)
    assert cfg.train_dataloader.get('pin_memory', False) is cuda
    assert cfg.val_dataloader.get('pin_memory', False) is cuda
    assert cfg.test_dataloader.pin_memory is False  # the config's own choice is kept


def test_sampler_batch_size_from_loader_or_refused():
    cfg = loaders(sampler=dict(type='CrossSpeciesMixedSampler', ratios=dict(a=1)))
    sync_sampler_batch_size(cfg)
    assert cfg.train_dataloader.sampler.batch_size == 4
    cfg.train_dataloader.batch_size = 8
    with pytest.raises(ConfigError, match='batch_size=8 but its CrossSpeciesMixedSampler has '
                                          'batch_size=4'):
        sync_sampler_batch_size(cfg)
    other = loaders(sampler=dict(type='InfiniteSampler'))
    sync_sampler_batch_size(other)
    assert 'batch_size' not in other.train_dataloader.sampler


@pytest.mark.parametrize('flag, env, kept', [(True, 'True', True), (False, 'True', False),
                                             (True, 'False', False)])
def test_published_initialisation_dropped_by_the_tools_not_the_model(monkeypatch, flag, env,
                                                                    kept):
    """--no-pretrained or CROSSSPEC_PRETRAINED=False: the tools drop it from the config."""
    import os.path as osp

    from helpers import REPO
    monkeypatch.setenv('CROSSSPEC_PRETRAINED', env)
    config = osp.join(REPO, 'configs', 'crossspec', 'deeplabv3plus_combined.py')
    cfg = load_cli_config(config, None, None, 'none', pretrained=flag)
    assert (cfg.model.pretrained == 'open-mmlab://resnet50_v1c') is kept
    assert (cfg.model.pretrained is None) is not kept
    assert 'use_pretrained' not in cfg.model


def test_two_runs_in_one_process_log_into_their_own_work_dirs(tmp_path):
    """MMSeg names its visualizer 'visualizer' and mmengine keeps one instance
    per name: without load_cli_config's fix the second run's scalars land in
    the first run's vis_data (a study's cells run in one process)."""
    import glob
    import os.path as osp

    from mmengine.runner import Runner

    from helpers import TINY_CONFIG
    assert Config.fromfile(TINY_CONFIG).visualizer.name == 'visualizer'  # MMSeg's runtime
    for run in ('first', 'second'):
        cfg = load_cli_config(TINY_CONFIG, str(tmp_path / run), None, 'none', pretrained=False)
        assert 'name' not in cfg.visualizer
        cfg.experiment_name = f'tiny_{run}'
        runner = Runner.from_cfg(cfg)
        runner.visualizer.add_scalars({'probe': 1.0})
        del runner
    for run in ('first', 'second'):
        logs = glob.glob(osp.join(tmp_path, run, '*', 'vis_data', 'scalars.json'))
        assert len(logs) == 1 and 'probe' in open(logs[0]).read(), run
