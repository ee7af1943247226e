"""Test-time augmentation that hands the merged probabilities on.

MMSeg's :class:`~mmseg.models.SegTTAModel` averages the softmaxes of the
augmented views (flips are undone by the segmentor first) and keeps only
their argmax: the merged sample's ``seg_logits`` are one view's. Metrics that
need probabilities (a nucleus's type from its mean leaf probabilities, summed
into a dataset's label set) would then score one view under ``--tta``. This
model keeps the same argmax and stores the merged probabilities as
``seg_logits`` (their log, so a softmax gives them back; the logit of the
mean for a one-channel sigmoid head). A segmentor that finds nuclei in its
predictions (``CrossSpeciesEncoderDecoder(instance_postprocess=...)``) does
so once, in the merged probabilities: the views are predicted without it.
"""
from __future__ import annotations

import contextlib
from typing import List

import torch
from mmengine.structures import PixelData
from mmseg.models import SegTTAModel
from mmseg.registry import MODELS
from mmseg.utils import SampleList

__all__ = ['ProbabilityTTAModel']

#: Smallest probability kept before the log (a softmax of it is still exact
#: to float32 precision).
_FLOOR = 1e-12


@MODELS.register_module()
class ProbabilityTTAModel(SegTTAModel):
    """:class:`SegTTAModel` whose merged samples carry the mean probabilities
    (and the nuclei found in them, for a segmentor with instance post-processing)."""

    def test_step(self, data):
        defer = getattr(self.module, 'instances_deferred', None)
        with defer() if defer is not None else contextlib.nullcontext():
            return super().test_step(data)

    def merge_preds(self, data_samples_list: List[SampleList]) -> SampleList:
        merged = []
        for views in data_samples_list:
            logits = torch.stack([v.seg_logits.data for v in views])
            binary = self.module.out_channels == 1
            probs = (logits.sigmoid() if binary else logits.softmax(dim=1)).mean(dim=0)
            if binary:
                pred = (probs > self.module.decode_head.threshold).to(probs).squeeze(0)
                kept = torch.logit(probs.clamp(_FLOOR, 1 - _FLOOR))
            else:
                pred = probs.argmax(dim=0)
                kept = probs.clamp_min(_FLOOR).log()
            sample = views[0].clone()
            sample.set_data({'pred_sem_seg': PixelData(data=pred),
                             'seg_logits': PixelData(data=kept)})
            merged.append(sample)
        if getattr(self.module, 'instance_postprocess', None) is not None:
            self.module.predict_instances(merged)
        return merged
