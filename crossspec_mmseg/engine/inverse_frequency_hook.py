"""Species (or any column) weights counted on the training set, not in the model."""
from __future__ import annotations

from typing import Optional

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmseg.registry import HOOKS

from ..datasets.inverse_frequency import weights_from_dataset

__all__ = ['InverseFrequencyWeightHook']


@HOOKS.register_module()
class InverseFrequencyWeightHook(Hook):
    """Before training, counts ``column`` over the training dataset (after its
    filters and regime), gives each value the weight ``max count / count``
    (capped at ``max_weight``), logs the weights and hands them to the
    :class:`~crossspec_mmseg.models.CrossSpeciesEncoderDecoder`.

    Every rank counts the same dataset, so the weights agree under DDP.

    Args:
        column: Manifest column / metainfo key to weight (``species``...).
        max_weight: Optional cap (>= 1).
    """

    priority = 'NORMAL'

    def __init__(self, column: str = 'species', max_weight: Optional[float] = None) -> None:
        self.column, self.max_weight = column, max_weight

    def before_train(self, runner) -> None:
        weights = weights_from_dataset(runner.train_dataloader.dataset, self.column,
                                       self.max_weight)
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if not hasattr(model, 'set_sample_weight'):
            raise TypeError(f'InverseFrequencyWeightHook needs model type '
                            f"'CrossSpeciesEncoderDecoder', got {type(model).__name__}")
        model.set_sample_weight(weights, weight_key=self.column)
        print_log(f'inverse-frequency sample weights of {self.column!r} over the training set: '
                  f'{ {k: round(v, 3) for k, v in sorted(weights.items())} }', logger='current')
