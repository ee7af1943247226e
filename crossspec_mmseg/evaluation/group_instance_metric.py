"""Nucleus instance scores (PQ, AJI, ...) overall and per group, beside
:class:`GroupIoUMetric` in a list of evaluators."""
from __future__ import annotations

from typing import Dict, Mapping, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log
from mmseg.registry import METRICS

from ..structures import INSTANCE_POSTPROCESSORS
from .groups import (
    INSTANCE_COLUMNS,
    format_group_table,
    parse_report_by,
    sample_groups,
    scores_per_group,
)
from .instance_scores import aggregate, image_counts

__all__ = ['GroupInstanceMetric']


@METRICS.register_module()
class GroupInstanceMetric(BaseMetric):
    """PQ, DQ, SQ, AJI, AJI+ and detection precision/recall/F1 of nuclei.

    Predicted instances come from the predicted class map through
    ``postprocess``. True instances come from the data sample's
    ``gt_instance_map`` (``LoadInstanceMap`` then ``PackSegInputsWithInstances``
    in the test pipeline); a sample without one falls back to the same
    ``postprocess`` applied to its ground-truth class map (touching nuclei
    of a plain semantic mask then merge). Instances, true or predicted, with
    more than half of their pixels in the ignore area (``ignore_index`` in the
    ground-truth class map) are left out, and so are the ignored pixels of
    the others.

    Keys (percent; see :func:`.instance_scores.aggregate`): ``PQ``, ``DQ``,
    ``SQ``, ``AJI``, ``AJI+``, ``precision``, ``recall``, ``F1`` over the
    set, ``<key>_img``/``<key>_img_std`` over images, ``nuclei``/
    ``nuclei_pred``, and each per group as ``<column>/<value>/<key>``.

    Args:
        postprocess: Config of a post-processing registered in
            :data:`INSTANCE_POSTPROCESSORS`, e.g. ``dict(type='ConnectedComponents',
            min_size=10)`` (the default, without ``min_size``) or
            ``dict(type='ContourWatershed', min_size=10)``.
        report_by: As :class:`GroupIoUMetric`.
        ignore_index: Ignored label of the ground-truth class map.
        **kwargs: As :class:`mmengine.evaluator.BaseMetric`.
    """

    def __init__(self, postprocess: Optional[Mapping] = None,
                 report_by: Sequence = ('species',), ignore_index: int = 255,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.postprocess = INSTANCE_POSTPROCESSORS.build(
            dict(postprocess or dict(type='ConnectedComponents')))
        self.report_by = parse_report_by(report_by)
        self.ignore_index = ignore_index

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            groups = sample_groups(sample, self.report_by)
            pred = self.postprocess(sample['pred_sem_seg']['data'].squeeze(0).cpu().numpy())
            label = sample['gt_sem_seg']['data'].squeeze(0).cpu().numpy()
            if 'gt_instance_map' in sample:
                true = sample['gt_instance_map']['data'].squeeze(0).cpu().numpy()
            else:
                true = self.postprocess(label)
            counts = image_counts(true.astype(np.int64), pred, label == self.ignore_index)
            self.results.append(dict(counts=counts, groups=groups))

    def _scores(self, results: list) -> Dict[str, float]:
        return aggregate(r['counts'] for r in results)

    def compute_metrics(self, results: list) -> Dict[str, float]:
        metrics = self._scores(results)
        metrics.update(scores_per_group(results, self.report_by, self._scores))
        print_log('Nucleus instance scores per group (%):\n'
                  + format_group_table(metrics, INSTANCE_COLUMNS),
                  logger=MMLogger.get_current_instance())
        return metrics
