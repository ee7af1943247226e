"""Freeze parts of a model (e.g. the encoder when fine-tuning on the target species)."""
from __future__ import annotations

from typing import Sequence

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmseg.registry import HOOKS

__all__ = ['FreezeModulesHook']


@HOOKS.register_module()
class FreezeModulesHook(Hook):
    """Stop training the named submodules: no gradients (so no optimiser step,
    whatever the learning-rate schedule does) and eval mode, so their
    normalisation statistics and dropout stay fixed too.

    Args:
        modules: Attribute paths on the model, e.g. ``('backbone',)``.
    """

    priority = 'HIGH'

    def __init__(self, modules: Sequence[str] = ('backbone',)) -> None:
        self.modules = tuple(modules)

    def _targets(self, runner):
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        for path in self.modules:
            module = model
            for name in path.split('.'):
                if not hasattr(module, name):
                    raise AttributeError(f'FreezeModulesHook: the model has no {path!r}')
                module = getattr(module, name)
            yield module

    def before_train(self, runner) -> None:
        for module in self._targets(runner):
            for param in module.parameters():
                param.requires_grad_(False)

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        for module in self._targets(runner):
            module.eval()
