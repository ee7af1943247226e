"""Distributed data parallel for CPU processes (gloo), so the multi-process
path of ``tools/dist_train.sh`` runs and is tested on machines without GPUs.

mmengine wraps models with ``device_ids=[LOCAL_RANK]``, which DDP rejects for
CPU modules, and SyncBN has no CPU kernel; this wrapper drops the device ids
and reverts SyncBN to BN (statistics are then per process).
"""
from __future__ import annotations

from mmengine.model import MMDistributedDataParallel, revert_sync_batchnorm
from mmengine.registry import MODEL_WRAPPERS

__all__ = ['CPUDistributedDataParallel']


@MODEL_WRAPPERS.register_module()
class CPUDistributedDataParallel(MMDistributedDataParallel):
    """:class:`MMDistributedDataParallel` for a model on the CPU."""

    def __init__(self, module, device_ids=None, **kwargs) -> None:
        super().__init__(module=revert_sync_batchnorm(module), device_ids=None, **kwargs)
