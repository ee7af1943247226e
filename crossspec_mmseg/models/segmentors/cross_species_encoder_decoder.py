"""An EncoderDecoder whose losses weight each sample by its species (or any
metainfo key).

Why this seam: MMSeg heads compute their losses as
``loss(seg_logits, seg_label, weight=seg_weight, ignore_index=...)`` and never
see the data samples; ``seg_weight`` comes from the head's pixel sampler. This
segmentor wraps the sampler of *its own* head instances with one that returns
each sample's weight broadcast over its pixels (times the original sampler's
weights, e.g. OHEM), set from the data samples for the duration of
:meth:`loss`. No MMSeg class is patched, every head family works unchanged,
and any loss that honours ``weight`` (ours, or MMSeg's CrossEntropyLoss) gets
species weighting.

Option ``instance_postprocess``: a post-processing from
``INSTANCE_POSTPROCESSORS`` that takes the per-pixel probabilities (e.g.
``TypedContourWatershed`` for a typed contour head) runs on every prediction,
so ``tools/test.py``, its ``--tta`` (:class:`.ProbabilityTTAModel`, on the merged
probabilities) and the instance metrics all see the same nuclei.
"""
from __future__ import annotations

import contextlib
import warnings
from typing import Dict, List, Mapping, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.logging import print_log
from mmengine.structures import PixelData
from mmseg.models.segmentors import EncoderDecoder
from mmseg.registry import MODELS
from torch import Tensor

from ...structures.instances import INSTANCE_POSTPROCESSORS
from ...utils.deprecation import renamed_keyword

__all__ = ['CrossSpeciesEncoderDecoder']


class _BatchWeights:
    """The per-sample weights of the batch being trained (None otherwise)."""

    value: Optional[Tensor] = None


class _SampleWeightSampler:
    """Pixel sampler returning each sample's weight over its pixels."""

    def __init__(self, batch: _BatchWeights, inner=None) -> None:
        self.batch, self.inner = batch, inner

    def sample(self, seg_logit: Tensor, seg_label: Tensor) -> Optional[Tensor]:
        inner = self.inner.sample(seg_logit, seg_label) if self.inner is not None else None
        if self.batch.value is None:
            return inner
        n, _, h, w = seg_label.shape
        weights = self.batch.value.view(n, 1, 1).expand(n, h, w)  # already on the device
        return weights if inner is None else weights * inner


def _resolve_weights(spec: Union[None, Mapping]) -> Optional[Mapping]:
    """``spec`` itself, or the weights its deprecated manifest form describes."""
    if spec is None or 'type' not in spec:
        return spec
    spec = dict(spec)
    if spec['type'] == 'inverse_frequency':
        warnings.warn("sample_weight=dict(type='inverse_frequency', manifest=...) is deprecated: "
                      "count the training set with custom_hooks=[dict(type="
                      "'InverseFrequencyWeightHook', by=..., max_weight=...)]",
                      DeprecationWarning, stacklevel=3)
        from ...datasets.inverse_frequency import weights_from_manifest
        spec.pop('type')
        weights = weights_from_manifest(**spec)
        print_log(f'inverse-frequency sample weights from {spec["manifest"]}: '
                  f'{ {k: round(v, 3) for k, v in weights.items()} }', logger='current')
        return weights
    raise ValueError(f"sample_weight type must be 'inverse_frequency', got {spec['type']!r}")


@MODELS.register_module()
class CrossSpeciesEncoderDecoder(EncoderDecoder):
    """:class:`mmseg.models.EncoderDecoder` with per-sample loss weights.

    Args:
        sample_weight: ``{value: weight}`` for the metainfo key ``weight_by``
            (e.g. ``dict(human=2.5, mouse=1.0)``). ``None``: plain
            EncoderDecoder, unless :class:`~crossspec_mmseg.engine.
            InverseFrequencyWeightHook` sets weights counted on the training
            set (:meth:`set_sample_weight`). The old
            ``dict(type='inverse_frequency', manifest=...)`` still works for
            one release (deprecated: it reads data files in the model).
        weight_by: The metainfo key (manifest column) whose value selects the
            weight (default ``species``); ``weight_key`` is its old name.
        default_weight: Weight for values missing from ``sample_weight``;
            ``None`` makes a missing value an error.
        use_pretrained: Deprecated (for one release): ``False`` drops the
            published initialisation. Use ``tools/train.py --no-pretrained``
            or ``CROSSSPEC_PRETRAINED=False`` instead (the tools apply them
            to the config, not the model).
        frozen_modules: Attribute paths (e.g. ``('backbone',)``) trained no
            further: no gradients and always in eval mode (normalisation
            statistics and dropout fixed), as when fine-tuning on the target
            species. Frozen here, when the model is built, so DDP (which
            wraps the model right after) never waits for their gradients.
        instance_postprocess: Optional ``dict(type=...)`` of an
            ``INSTANCE_POSTPROCESSORS`` entry called with each prediction's
            probabilities (the softmax of ``seg_logits``, C x H x W NumPy) and
            returning ``(instance map, per-instance leaf probabilities)``,
            e.g. ``dict(type='TypedContourWatershed', min_size=10)``. Each
            predicted sample then also carries ``pred_instance_map``
            (``PixelData``, 1 x H x W) and ``pred_instance_leaf_probs``
            (n x leaves tensor), which ``GroupInstanceMetric`` scores
            instead of post-processing the class map. Test-time
            augmentation: :class:`.ProbabilityTTAModel` (it runs this once, on
            the merged probabilities).
        **kwargs: As :class:`EncoderDecoder`.
    """

    def __init__(self, *args, sample_weight: Union[None, Mapping] = None,
                 weight_by: Optional[str] = None, default_weight: Optional[float] = None,
                 use_pretrained: Union[None, bool, str] = None, frozen_modules: Sequence[str] = (),
                 weight_key: Optional[str] = None,
                 instance_postprocess: Optional[Mapping] = None, **kwargs) -> None:
        if use_pretrained is not None:
            warnings.warn('CrossSpeciesEncoderDecoder(use_pretrained=...) is deprecated: use '
                          'tools/train.py --no-pretrained or CROSSSPEC_PRETRAINED=False',
                          DeprecationWarning, stacklevel=2)
        if isinstance(use_pretrained, str):  # '{{$CROSSSPEC_PRETRAINED:True}}' in old configs
            use_pretrained = use_pretrained.strip().lower() not in ('false', '0', 'no', 'off', '')
        if use_pretrained is False:
            kwargs['pretrained'] = None
            kwargs['backbone'] = dict(kwargs['backbone'], init_cfg=None)
        super().__init__(*args, **kwargs)
        self.weight_by = renamed_keyword('CrossSpeciesEncoderDecoder', 'weight_key', 'weight_by',
                                         weight_key, weight_by, 'species')
        self.default_weight = default_weight
        self._batch = _BatchWeights()
        self.sample_weight: Optional[Dict[str, float]] = None
        self.set_sample_weight(_resolve_weights(sample_weight))
        self.frozen_modules = tuple(frozen_modules)
        for path in self.frozen_modules:
            try:
                self.get_submodule(path).requires_grad_(False)
            except AttributeError:
                raise AttributeError(f'frozen_modules: the model has no submodule {path!r}') \
                    from None
        self.train(self.training)  # frozen modules to eval mode
        self.instance_postprocess = INSTANCE_POSTPROCESSORS.build(
            dict(instance_postprocess)) if instance_postprocess else None
        self._instances_deferred = False

    def set_sample_weight(self, weights: Optional[Mapping[str, float]],
                          weight_by: Optional[str] = None) -> None:
        """Weight each training sample by ``weights[metainfo[weight_by]]``
        from now on (``None``: unweighted)."""
        if weights is not None and self.sample_weight is None:
            for head in self._heads():
                head.sampler = _SampleWeightSampler(self._batch, head.sampler)
        self.sample_weight = None if weights is None else {
            str(k): float(v) for k, v in weights.items()}
        if weight_by is not None:
            self.weight_by = weight_by

    def train(self, mode: bool = True) -> 'CrossSpeciesEncoderDecoder':
        """As ``nn.Module.train``, but frozen modules stay in eval mode."""
        super().train(mode)
        for path in self.frozen_modules:
            self.get_submodule(path).eval()
        return self

    def _heads(self) -> List[torch.nn.Module]:
        heads = [self.decode_head]
        if self.with_auxiliary_head:
            aux = self.auxiliary_head
            heads += list(aux) if isinstance(aux, torch.nn.ModuleList) else [aux]
        return heads

    def weights_for(self, data_samples) -> Tensor:
        """Per-sample weights ``(N,)`` of a batch."""
        values = []
        for sample in data_samples:
            key = sample.metainfo.get(self.weight_by)
            if key is None:
                raise KeyError(f'{sample.metainfo.get("img_path", "sample")}: no '
                               f'{self.weight_by!r} in metainfo; add it to '
                               'PackSegInputs(meta_keys=...)')
            weight = self.sample_weight.get(str(key), self.default_weight)
            if weight is None:
                raise KeyError(f'no sample_weight for {self.weight_by}={key!r} '
                               f'(have {sorted(self.sample_weight)}); add it or set '
                               'default_weight')
            values.append(weight)
        return torch.tensor(values, dtype=torch.float32)

    def loss(self, inputs: Tensor, data_samples) -> dict:
        if self.sample_weight is None:
            return super().loss(inputs, data_samples)
        weights = self.weights_for(data_samples)
        if inputs.device.type == 'cuda':  # once per batch, not per head; no wait
            weights = weights.pin_memory()
        self._batch.value = weights.to(inputs.device, non_blocking=True)
        try:
            return super().loss(inputs, data_samples)
        finally:
            self._batch.value = None

    def postprocess_result(self, seg_logits: Tensor, data_samples=None):
        """As :class:`EncoderDecoder`, plus :meth:`predict_instances` with
        ``instance_postprocess`` (unless a TTA model defers it to the merge)."""
        samples = super().postprocess_result(seg_logits, data_samples)
        if self.instance_postprocess is not None and not self._instances_deferred:
            self.predict_instances(samples)
        return samples

    def predict_instances(self, data_samples) -> None:
        """Set ``pred_instance_map`` and ``pred_instance_leaf_probs`` of each
        sample (CPU tensors) from the softmax of its ``seg_logits`` with
        ``instance_postprocess``."""
        for sample in data_samples:
            logits = sample.seg_logits.data
            probs = logits.float().softmax(dim=0).cpu().numpy()
            ids, leaf_probs = self.instance_postprocess(probs)
            sample.pred_instance_map = PixelData(data=torch.from_numpy(
                np.ascontiguousarray(ids, np.int32))[None])
            sample.pred_instance_leaf_probs = torch.from_numpy(
                np.ascontiguousarray(leaf_probs, np.float32))

    @contextlib.contextmanager
    def instances_deferred(self):
        """Within: predictions skip ``instance_postprocess`` (a TTA model runs
        it once on the merged probabilities)."""
        old, self._instances_deferred = self._instances_deferred, True
        try:
            yield
        finally:
            self._instances_deferred = old

