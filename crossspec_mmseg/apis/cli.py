"""What the train/test tools share: their flags and how they load a config
(was ``crossspec_mmseg.utils.cli``)."""
from __future__ import annotations

import argparse
import os

import torch
from mmengine.config import Config, DictAction

from ..engine.cpu_ddp import prepare_cpu_distributed

__all__ = ['ConfigError', 'base_parser', 'drop_published_init', 'load_cli_config',
           'pin_loader_memory', 'pretrained_from_env', 'sync_sampler_batch_size']


def base_parser(description: str) -> argparse.ArgumentParser:
    """The flags MMSeg's train and test tools share."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('config', help='config file path')
    parser.add_argument('--work-dir', help='where logs, checkpoints and metrics go')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value (MMSeg syntax)')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--no-pretrained', action='store_true',
                        help='drop the published initialisation (nothing is downloaded: offline '
                             'machines, tests); also CROSSSPEC_PRETRAINED=False')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return parser


def load_cli_config(config: str, work_dir: str | None, cfg_options: dict | None,
                    launcher: str, pretrained: bool = True) -> Config:
    """Load a config the way MMSeg's tools do.

    ``work_dir`` priority: CLI, then the config's own, then
    ``work_dirs/<config name>``. ``pretrained=False`` (``--no-pretrained``), or
    ``CROSSSPEC_PRETRAINED=False`` in the environment, drops the model's
    published initialisation (:func:`drop_published_init`).
    """
    cfg = Config.fromfile(config)
    cfg.launcher = launcher
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if not pretrained or not pretrained_from_env():
        drop_published_init(cfg.model)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = os.path.join('work_dirs', os.path.splitext(os.path.basename(config))[0])
    prepare_cpu_distributed(cfg, launcher)
    pin_loader_memory(cfg)
    sync_sampler_batch_size(cfg)
    visualizer_per_run(cfg)
    return cfg


def visualizer_per_run(cfg: Config) -> None:
    """Let mmengine name the visualizer after the run (``experiment_name``).

    MMSeg's runtime names it ``'visualizer'``; mmengine keeps one instance per
    name per process, so a second run in one process (a study's cells, the
    tools called in-process) would log its scalars into the first run's
    ``vis_data``.
    """
    visualizer = cfg.get('visualizer')
    if isinstance(visualizer, dict) and visualizer.get('name') == 'visualizer':
        visualizer.pop('name')


def pretrained_from_env() -> bool:
    """``False`` when ``CROSSSPEC_PRETRAINED`` says so (false/0/no/off)."""
    value = os.environ.get('CROSSSPEC_PRETRAINED', 'True')
    return value.strip().lower() not in ('false', '0', 'no', 'off', '')


def drop_published_init(model: dict) -> None:
    """Train from scratch: no ``pretrained`` checkpoint and no backbone
    ``init_cfg`` (a test-time-augmentation wrapper's ``module`` included), so
    nothing is downloaded."""
    model = model.get('module', model)
    if 'pretrained' in model:
        model['pretrained'] = None
    if model.get('backbone') is not None:
        model['backbone']['init_cfg'] = None


class ConfigError(ValueError):
    """A config the tools refuse before any work (printed as one line)."""


#: Samplers whose quotas are planned per batch: they must know the loader's batch size.
BATCH_PLANNING_SAMPLERS = ('CrossSpeciesMixedSampler',)


def sync_sampler_batch_size(cfg: Config) -> None:
    """Give a per-batch sampler the training loader's ``batch_size``, or refuse a
    config where the two differ (e.g. ``--cfg-options train_dataloader.batch_size=16``
    that forgot ``train_dataloader.sampler.batch_size``): the sampler cannot see
    the loader, and would mix every batch at the wrong quotas silently."""
    loader = cfg.get('train_dataloader') or {}
    sampler = loader.get('sampler') or {}
    if sampler.get('type') not in BATCH_PLANNING_SAMPLERS or 'batch_size' not in loader:
        return
    if sampler.get('batch_size') is None:
        sampler['batch_size'] = loader['batch_size']
    elif sampler['batch_size'] != loader['batch_size']:
        raise ConfigError(
            f'train_dataloader.batch_size={loader["batch_size"]} but its {sampler["type"]} has '
            f'batch_size={sampler["batch_size"]}: quotas are per batch, so set both (e.g. '
            f'--cfg-options train_dataloader.batch_size=N train_dataloader.sampler.batch_size=N)'
            ', or leave the sampler\'s out to take the loader\'s')


def pin_loader_memory(cfg: Config) -> None:
    """``pin_memory=True`` for every dataloader the config does not set, when
    training or testing on a GPU (page-locked batches copy to the device
    asynchronously); left alone on CPU, where pinning only warns."""
    if not torch.cuda.is_available():
        return
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if cfg.get(name) is not None:
            cfg[name].setdefault('pin_memory', True)



