"""Distributed data parallel for CPU processes (gloo), so the multi-process
path of ``tools/dist_train.sh`` runs and is tested on machines without GPUs.

mmengine wraps models with ``device_ids=[LOCAL_RANK]``, which DDP rejects for
CPU modules, and SyncBN has no CPU kernel; this wrapper drops the device ids
and reverts SyncBN to BN (statistics are then per process).
:func:`prepare_cpu_distributed` sets a config up for it before the runner is
built; :func:`finish_distributed` ends the process group cleanly.
"""
from __future__ import annotations

import os
from datetime import timedelta

import torch
import torch.distributed as torch_dist
from mmengine.config import Config
from mmengine.model import MMDistributedDataParallel, revert_sync_batchnorm
from mmengine.registry import MODEL_WRAPPERS

__all__ = ['CPUDistributedDataParallel', 'finish_distributed', 'prepare_cpu_distributed']


@MODEL_WRAPPERS.register_module()
class CPUDistributedDataParallel(MMDistributedDataParallel):
    """:class:`MMDistributedDataParallel` for a model on the CPU."""

    def __init__(self, module, device_ids=None, **kwargs) -> None:
        super().__init__(module=revert_sync_batchnorm(module), device_ids=None, **kwargs)


def prepare_cpu_distributed(cfg: Config, launcher: str) -> None:
    """Make ``launcher='pytorch'`` (torchrun) work without CUDA.

    mmengine's ``init_dist`` calls ``torch.cuda.set_device`` (absent in CPU
    builds) and wraps with ``device_ids``; here the gloo process group is
    started before the runner (which then skips ``init_dist``) and the model
    wrapper is switched to :class:`CPUDistributedDataParallel`. A no-op with
    CUDA or without a launcher.
    """
    if launcher != 'pytorch' or torch.cuda.is_available():
        return
    dist_cfg = cfg.get('env_cfg', {}).get('dist_cfg', {})
    timeout = dist_cfg.get('timeout', 1800)
    if not torch_dist.is_initialized():
        torch_dist.init_process_group(backend='gloo', timeout=timedelta(seconds=timeout),
                                      rank=int(os.environ['RANK']),
                                      world_size=int(os.environ['WORLD_SIZE']))
    wrapper = dict(cfg.get('model_wrapper_cfg') or {})
    wrapper['type'] = 'CPUDistributedDataParallel'
    wrapper.setdefault('broadcast_buffers', False)
    wrapper.setdefault('find_unused_parameters', cfg.get('find_unused_parameters', False))
    cfg.model_wrapper_cfg = wrapper


def finish_distributed() -> None:
    """Wait for every rank, then tear the process group down before exit.

    Leaving a gloo group to interpreter shutdown can abort a rank
    ("terminate called without an active exception") after a good run.
    """
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.barrier()
        torch_dist.destroy_process_group()
