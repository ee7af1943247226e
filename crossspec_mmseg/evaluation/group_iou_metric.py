"""IoU and Dice overall and per group (species, dataset, organ: any manifest column).

The group of a sample is read from its metainfo, which the manifest dataset
fills and ``PackSegInputs(meta_keys=...)`` carries into the data sample, so a
test tool run reports e.g. human and mouse side by side.
"""
from __future__ import annotations

import warnings
from collections import defaultdict
from typing import Dict, List, Mapping, Optional, Sequence

import numpy as np
import torch
from mmengine.logging import MMLogger, print_log
from mmseg.evaluation import IoUMetric
from mmseg.registry import METRICS

from ..structures import LabelTree, count_components
from .groups import format_group_table, parse_report_by, sample_groups, scores_per_group

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
    deviation across images of the per-image scores), ``n`` (images),
    ``count_diff.<class>`` (mean per image of |components in ground truth -
    components in prediction|, for ``count_classes``), and for each group
    column and value ``<column>/<value>/<key>``.

    With ``label_tree`` (the loss's tree), each sample is scored in its own
    label set: leaf predictions are mapped up to the set's nodes, and every
    set is reported as ``labelset/<name>/<key>``; the top-level keys are the
    first (finest) set's.

    Args:
        report_by: Metainfo keys to report separately, e.g.
            ``('species', 'dataset')``; a tuple reports a combination, e.g.
            ``(('species', 'organ'),)`` gives ``species+organ/human+kidney/...``
            (the target alone in a cross-species regime).
        group_keys: Deprecated name of ``report_by`` (kept for one release).
        count_classes: Classes whose connected components are counted.
        min_area: Components smaller than this (pixels) are ignored.
        label_tree: ``dict(leaves=..., nodes=..., label_sets=...)``, or a
            named tree (``'nucleus'``).
        **kwargs: As :class:`IoUMetric`; ``iou_metrics`` defaults to
            ``['mIoU', 'mDice']``.
    """

    def __init__(self, report_by: Sequence = ('species',),
                 iou_metrics: Sequence[str] = ('mIoU', 'mDice'),
                 count_classes: Sequence[str] = (), min_area: int = 0,
                 label_tree: Optional[Mapping] = None,
                 group_keys: Optional[Sequence] = None, **kwargs) -> None:
        super().__init__(iou_metrics=list(iou_metrics), **kwargs)
        if group_keys is not None:
            warnings.warn('GroupIoUMetric(group_keys=...) is deprecated: use report_by=...',
                          DeprecationWarning, stacklevel=2)
            report_by = group_keys
        self.report_by = parse_report_by(report_by)
        self.count_classes, self.min_area = tuple(count_classes), min_area
        self.tree = LabelTree.build(label_tree) if label_tree else None
        if self.tree is not None:
            self._set_names = list(self.tree.label_sets)
            self._leaf_to_node = {}  # per label set: leaf -> index of the node holding it
            for name, nodes in self.tree.label_sets.items():
                mapping = torch.empty(len(self.tree.leaves), dtype=torch.long)
                for j in range(len(nodes)):
                    mapping[self.tree.node_leaves[self.tree.offsets[name] + j]] = j
                self._leaf_to_node[name] = mapping

    def _classes(self, label_set: Optional[str]) -> Sequence[str]:
        return self.dataset_meta['classes'] if label_set is None else \
            self.tree.label_sets[label_set]

    def _to_label_set(self, pred, label):
        """Map a sample to its label set: (set name or None, pred, label)."""
        if self.tree is None:
            return None, pred, label
        valid = label != self.ignore_index
        node = int(label[valid][0]) if bool(valid.any()) else 0
        name = self._set_names[int(self.tree.node_set[min(node, self.tree.num_nodes - 1)])]
        offset = self.tree.offsets[name]
        label = torch.where(valid, label - offset, label)
        pred = self._leaf_to_node[name].to(pred.device)[pred.long()]
        return name, pred, label

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        if self.output_dir is not None or self.format_only:
            # IoUMetric writes the prediction PNGs; its own area tuples are dropped.
            super().process(data_batch, data_samples)
            self.results = [r for r in self.results if isinstance(r, dict)]
            if self.format_only:
                return
        for sample in data_samples:
            groups = sample_groups(sample, self.report_by)
            pred = sample['pred_sem_seg']['data'].squeeze()
            label = sample['gt_sem_seg']['data'].squeeze().to(pred)
            label_set, pred, label = self._to_label_set(pred, label)
            classes = self._classes(label_set)
            areas = self.intersect_and_union(pred, label, len(classes), self.ignore_index)
            counts = {}
            if self.count_classes:
                p, g = pred.cpu().numpy(), label.cpu().numpy()
                valid = g != self.ignore_index
                for name in self.count_classes:
                    if name in classes:
                        c = list(classes).index(name)
                        counts[name] = abs(count_components(g == c, self.min_area)
                                           - count_components((p == c) & valid, self.min_area))
            self.results.append(dict(
                areas=tuple(a.cpu().double() for a in areas), label_set=label_set,
                counts=counts, groups=groups))

    def _scores(self, results: List[dict]) -> Dict[str, float]:
        """IoU/Dice (per class and mean), per-image std and count differences."""
        sets = {r['label_set'] for r in results}
        if len(sets) > 1:
            raise ValueError(f'a group mixes label sets {sorted(map(str, sets))}; group by '
                             'dataset or species so each group has one label set')
        classes = self._classes(sets.pop())
        intersect, union, pred, label = (sum(r['areas'][j] for r in results) for j in range(4))
        per_class = self.total_area_to_metrics(intersect, union, pred, label,
                                               self.metrics, self.nan_to_num, self.beta)
        scores = {'aAcc': float(per_class['aAcc']) * 100}
        for name in ('IoU', 'Dice'):
            if name in per_class:
                values = np.asarray(per_class[name], np.float64) * 100
                scores[f'm{name}'] = float(np.nanmean(values))
                for cls, value in zip(classes, values):
                    scores[f'{name}.{cls}'] = float(value)
        images = [per_image_scores(*(a.numpy() for a in r['areas'])) for r in results]
        for name in ('mIoU', 'mDice'):
            values = np.array([img[name] for img in images]) * 100
            scores[f'{name}_std'] = (float(np.nanstd(values)) if np.isfinite(values).any()
                                     else float('nan'))
        for name in self.count_classes:
            diffs = [r['counts'][name] for r in results if name in r['counts']]
            if diffs:
                scores[f'count_diff.{name}'] = float(np.mean(diffs))
        scores = {k: round(v, 2) for k, v in scores.items()}
        scores['n'] = len(results)
        return scores

    def compute_metrics(self, results: list) -> Dict[str, float]:
        if self.format_only:  # MMSeg's --format-only: the PNGs are the output, no scores
            print_log(f'format_only: predictions written to {self.output_dir}, not scored',
                      logger=MMLogger.get_current_instance())
            return {}
        metrics: Dict[str, float] = {}
        if self.tree is None:
            metrics.update(self._scores(results))
        else:
            by_set = defaultdict(list)
            for r in results:
                by_set[r['label_set']].append(r)
            present = [s for s in self._set_names if s in by_set]
            for name in present:
                scores = self._scores(by_set[name])
                metrics.update({f'labelset/{name}/{k}': v for k, v in scores.items()})
                if name == present[0]:  # the finest set present gives the top-level keys
                    metrics.update(scores)
        metrics.update(scores_per_group(results, self.report_by, self._scores))
        print_log('IoU and Dice per group (%):\n' + format_group_table(metrics),
                  logger=MMLogger.get_current_instance())
        return metrics

