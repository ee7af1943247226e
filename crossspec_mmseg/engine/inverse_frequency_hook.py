"""Species (or any column) weights counted on the training set, not in the model."""
from __future__ import annotations

from typing import Optional

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmseg.registry import HOOKS

from ..datasets.inverse_frequency import weights_from_dataset
from ..utils.deprecation import renamed_keyword

__all__ = ['InverseFrequencyWeightHook']


@HOOKS.register_module()
class InverseFrequencyWeightHook(Hook):
    """Before training, counts the values of ``by`` over the training dataset (after its
    filters and regime), gives each value the weight ``max count / count``
    (capped at ``max_weight``), logs the weights and hands them to the
    :class:`~crossspec_mmseg.models.CrossSpeciesEncoderDecoder`.

    Every rank counts the same dataset, so the weights agree under DDP.

    Args:
        by: Manifest column / metainfo key whose values are weighted
            (default ``species``).
        max_weight: Optional cap (>= 1).
        column: The old name of ``by`` (read for one release, with a warning).
    """

    priority = 'NORMAL'

    def __init__(self, by: Optional[str] = None, max_weight: Optional[float] = None,
                 column: Optional[str] = None) -> None:
        self.by = renamed_keyword('InverseFrequencyWeightHook', 'column', 'by', column, by,
                                  'species')
        self.max_weight = max_weight

    def before_train(self, runner) -> None:
        weights = weights_from_dataset(runner.train_dataloader.dataset, self.by,
                                       self.max_weight)
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if not hasattr(model, 'set_sample_weight'):
            raise TypeError(f'InverseFrequencyWeightHook needs model type '
                            f"'CrossSpeciesEncoderDecoder', got {type(model).__name__}")
        model.set_sample_weight(weights, weight_by=self.by)
        print_log(f'inverse-frequency sample weights of {self.by!r} over the training set: '
                  f'{ {k: round(v, 3) for k, v in sorted(weights.items())} }', logger='current')
