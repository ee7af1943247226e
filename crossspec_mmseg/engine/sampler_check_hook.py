"""Stop a run whose cross-species sampler and dataloader disagree on the batch size."""
from __future__ import annotations

from mmengine.hooks import Hook
from mmseg.registry import HOOKS

from ..samplers import CrossSpeciesMixedSampler

__all__ = ['SamplerBatchSizeCheckHook']


@HOOKS.register_module()
class SamplerBatchSizeCheckHook(Hook):
    """Before the first iteration, check that a :class:`CrossSpeciesMixedSampler`
    plans its quotas for the batch size the dataloader really uses.

    The sampler cannot see the dataloader, so ``batch_size`` is written twice
    in a config; a ``--cfg-options train_dataloader.batch_size=16`` that
    forgets the sampler would otherwise mix batches at the wrong quotas
    silently. The shared dataset base registers this hook in
    ``default_hooks`` (so configs that set their own ``custom_hooks`` keep it).
    """

    priority = 'VERY_HIGH'

    def before_train(self, runner) -> None:
        loader = runner.train_dataloader
        sampler = getattr(loader, 'sampler', None)
        if isinstance(sampler, CrossSpeciesMixedSampler) and sampler.batch_size != loader.batch_size:
            raise ValueError(
                f'train_dataloader.batch_size={loader.batch_size} but its '
                f'CrossSpeciesMixedSampler has batch_size={sampler.batch_size}: quotas are per '
                f'batch, so set both (e.g. --cfg-options train_dataloader.batch_size=N '
                f'train_dataloader.sampler.batch_size=N)')
