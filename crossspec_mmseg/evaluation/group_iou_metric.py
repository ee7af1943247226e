"""IoU and Dice overall and per group (species, dataset, organ: any manifest column).

The group of a sample is read from its metainfo, which the manifest dataset
fills and ``PackSegInputs(meta_keys=...)`` carries into the data sample, so a
test tool run reports e.g. human and mouse side by side.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Dict, List, Sequence

import numpy as np
from mmengine.logging import MMLogger, print_log
from mmseg.evaluation import IoUMetric
from mmseg.registry import METRICS
from prettytable import PrettyTable

__all__ = ['GroupIoUMetric', 'format_group_table', 'per_image_scores']


def per_image_scores(intersect: np.ndarray, union: np.ndarray, pred: np.ndarray,
                     label: np.ndarray) -> Dict[str, float]:
    """Mean IoU and Dice of one image over the classes present in prediction or label.

    Returns NaN for an image with no valid pixel at all.
    """
    present = union > 0
    if not present.any():
        return dict(mIoU=float('nan'), mDice=float('nan'))
    iou = intersect[present] / union[present]
    dice = 2 * intersect[present] / (pred[present] + label[present])
    return dict(mIoU=float(iou.mean()), mDice=float(dice.mean()))


@METRICS.register_module()
class GroupIoUMetric(IoUMetric):
    """:class:`mmseg.evaluation.IoUMetric` plus the same scores per group.

    Keys (percent, like IoUMetric): ``aAcc``, ``mIoU``, ``mDice``,
    ``IoU.<class>``, ``Dice.<class>``, ``mIoU_std``/``mDice_std`` (standard
    deviation across images of the per-image scores), and for each group
    column and value ``<column>/<value>/<key>`` plus ``<column>/<value>/n``
    (number of images).

    Args:
        group_keys: Metainfo keys to group by, e.g. ``('species', 'dataset')``;
            a tuple groups by a combination, e.g. ``(('species', 'organ'),)``
            reports ``species+organ/human+kidney/...`` (the target alone in a
            cross-species regime).
        **kwargs: As :class:`IoUMetric`; ``iou_metrics`` defaults to
            ``['mIoU', 'mDice']``.
    """

    def __init__(self, group_keys: Sequence[str] = ('species',),
                 iou_metrics: Sequence[str] = ('mIoU', 'mDice'), **kwargs) -> None:
        super().__init__(iou_metrics=list(iou_metrics), **kwargs)
        self.group_keys = {('+'.join(k) if isinstance(k, (tuple, list)) else k):
                           (tuple(k) if isinstance(k, (tuple, list)) else (k,))
                           for k in group_keys}

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        start = len(self.results)
        super().process(data_batch, data_samples)
        if self.format_only:
            return
        for i, sample in enumerate(data_samples, start=start):
            missing = sorted({k for keys in self.group_keys.values() for k in keys
                              if k not in sample})
            if missing:
                raise KeyError(
                    f'{sample.get("img_path", "sample")}: metainfo lacks {missing}; add them '
                    'to PackSegInputs(meta_keys=...) and use a manifest dataset')
            areas = tuple(a.cpu().double() for a in self.results[i])
            groups = {name: '+'.join(str(sample[k]) for k in keys)
                      for name, keys in self.group_keys.items()}
            self.results[i] = areas + (groups,)

    def _scores(self, results: List[tuple]) -> Dict[str, float]:
        """IoU/Dice (per class and mean) and per-image std over ``results``."""
        intersect, union, pred, label = (sum(r[j] for r in results) for j in range(4))
        per_class = self.total_area_to_metrics(intersect, union, pred, label,
                                               self.metrics, self.nan_to_num, self.beta)
        scores = {'aAcc': float(per_class['aAcc']) * 100}
        for name in ('IoU', 'Dice'):
            if name in per_class:
                values = np.asarray(per_class[name], np.float64) * 100
                scores[f'm{name}'] = float(np.nanmean(values))
                for cls, value in zip(self.dataset_meta['classes'], values):
                    scores[f'{name}.{cls}'] = float(value)
        images = [per_image_scores(*(a.numpy() for a in r[:4])) for r in results]
        for name in ('mIoU', 'mDice'):
            values = np.array([img[name] for img in images]) * 100
            scores[f'{name}_std'] = float(np.nanstd(values)) if np.isfinite(values).any() else float('nan')
        return {k: round(v, 2) for k, v in scores.items()}

    def compute_metrics(self, results: list) -> Dict[str, float]:
        metrics = self._scores(results)
        metrics['n'] = len(results)
        for key in self.group_keys:
            members = defaultdict(list)
            for r in results:
                members[r[4][key]].append(r)
            for value in sorted(members):
                scores = self._scores(members[value])
                scores['n'] = len(members[value])
                metrics.update({f'{key}/{value}/{k}': v for k, v in scores.items()})
        print_log('IoU and Dice per group (%):\n' + format_group_table(metrics),
                  logger=MMLogger.get_current_instance())
        return metrics


def format_group_table(metrics: Dict[str, float]) -> str:
    """Render GroupIoUMetric's flat dict as a table, one row per group."""
    rows = {'all': {k: v for k, v in metrics.items() if '/' not in k}}
    for key, value in metrics.items():
        if key.count('/') == 2:
            column, group, name = key.split('/')
            rows.setdefault(f'{column}={group}', {})[name] = value
    columns = ['n', 'mIoU', 'mDice', 'mIoU_std', 'mDice_std']
    columns += sorted(k for k in rows['all'] if k.startswith(('IoU.', 'Dice.')))
    table = PrettyTable(['group'] + columns)
    for name, scores in rows.items():
        table.add_row([name] + [scores.get(c, '') for c in columns])
    return table.get_string()
