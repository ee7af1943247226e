"""Nucleus instance scores (PQ, AJI, ...; with ``types=True`` also bPQ, mPQ,
mPQ+, F1d and per-class PQ/F1) overall and per group, beside
:class:`GroupIoUMetric` in a list of evaluators."""
from __future__ import annotations

from collections import defaultdict
from typing import Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.dist import get_rank
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log
from mmseg.registry import METRICS

from ..structures import INSTANCE_POSTPROCESSORS, LabelTree
from .groups import (
    INSTANCE_COLUMNS,
    format_group_table,
    format_typed_tables,
    parse_report_by,
    sample_groups,
    scores_per_group,
)
from .instance_scores import aggregate, image_counts
from .nuclei_npy import NucleiNpyWriter
from .typed_instance_scores import (
    drop_background_typed,
    instance_types_from_map,
    instance_types_from_probabilities,
    typed_aggregate,
    typed_image_counts,
)

__all__ = ['GroupInstanceMetric']


class _LabelSet(NamedTuple):
    """A label set as typed scoring sees it: its node-id offset, the classes
    scored (detection-only nodes left out), their nodes x leaves matrix, and
    ``ids[j]``: the scored class of dataset label ``j`` (0 for background
    and detection-only labels such as CoNSeP's "other")."""
    offset: int
    classes: List[str]
    matrix: np.ndarray
    ids: np.ndarray


def _scored_label_set(offset: int, names: Sequence[str], matrix: np.ndarray,
                      detection_only: np.ndarray) -> _LabelSet:
    scored = ~np.asarray(detection_only, bool)
    scored[0] = True
    ids = np.where(scored, np.cumsum(scored) - 1, 0)
    return _LabelSet(offset, [n for n, k in zip(names, scored) if k], matrix[scored], ids)


def _numpy(value) -> np.ndarray:
    """A data sample field (tensor, PixelData dict or list) as a NumPy array."""
    if isinstance(value, Mapping):
        value = value['data']
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


@METRICS.register_module()
class GroupInstanceMetric(BaseMetric):
    """PQ, DQ, SQ, AJI, AJI+ and detection precision/recall/F1 of nuclei;
    with ``types=True`` also the type-aware scores of nuclei classification.

    Predicted instances come from the predicted class map through
    ``postprocess``. True instances come from the data sample's
    ``gt_instance_map`` (``LoadInstanceMap`` then ``PackSegInputsWithInstances``
    in the test pipeline); a sample without one falls back to the same
    ``postprocess`` applied to its ground-truth class map (touching nuclei
    of a plain semantic mask then merge; typed mode requires the map).
    Instances, true or predicted, with more than half of their pixels in the
    ignore area (``ignore_index`` in the ground-truth class map) are left out,
    and so are the ignored pixels of the others.

    Typed mode: each sample is scored in its own label set (with
    ``label_tree``: from its ``label_set`` or ``label_offset`` metainfo, else
    from its first non-ignored label; without: ``dataset_meta['classes']``).
    True types: the most frequent non-background type of each true instance in
    ``gt_sem_seg``. Predicted instances and types: ``pred_instance_map`` with
    ``pred_instance_types`` (label-set ids) or ``pred_instance_leaf_probs``
    (instances x leaves, summed into the set's nodes); otherwise instances
    from ``postprocess`` and, per instance, the mean of the softmax of
    ``seg_logits`` summed into the set's nodes. The type is the node of
    largest probability; instances typed background are dropped. The
    centroid radius is converted with the sample's ``mpp`` metainfo.

    Keys (percent; see :func:`.instance_scores.aggregate`): ``PQ``, ``DQ``,
    ``SQ``, ``AJI``, ``AJI+``, ``precision``, ``recall``, ``F1`` over the
    set, ``<key>_img``/``<key>_img_std`` over images, ``nuclei``/
    ``nuclei_pred``; typed (see :func:`.typed_instance_scores.typed_aggregate`):
    ``bPQ``, ``mPQ`` (PanNuke), ``mPQ+``, ``PQ_<class>`` (CoNIC), ``F1d``,
    ``acc_type``, ``F1_<class>`` (HoVer-Net), for groups with one label set;
    each per group as ``<column>/<value>/<key>`` and, with ``label_tree``,
    per label set as ``labelset/<name>/<key>``.

    Args:
        postprocess: Config of a post-processing registered in
            :data:`INSTANCE_POSTPROCESSORS`, e.g. ``dict(type='ConnectedComponents',
            min_size=10)`` (the default, without ``min_size``) or
            ``dict(type='ContourWatershed', min_size=10)``. In typed mode its
            classes are the head's nucleus leaves.
        report_by: As :class:`GroupIoUMetric`.
        ignore_index: Ignored label of the ground-truth class map.
        types: Score nucleus types too.
        label_tree: The loss's tree: ``dict(leaves=..., nodes=..., label_sets=...)``
            or a named tree (``'nucleus'``). Detection-only nodes (the tree's
            ``unknown``, e.g. CoNSeP's "other") are no class: their nuclei
            count for bPQ and F1d only, and no prediction gets that type.
        radius_um: Centroid pairing radius of F1d/F1 (HoVer-Net: 12 px at
            0.25 um/px).
        mpp: um/px of samples without ``mpp`` metainfo (None: required).
        tissue_key: Metainfo key of the tissue mPQ/bPQ average over
            (PanNuke: ``organ``); samples without it form one tissue.
        npy_dir: Typed mode: also write predictions and truths in the
            official scripts' ``.npy`` layout, per label set
            (``<npy_dir>/<set>/{pred,true}.npy``, ``images.csv``;
            :mod:`.nuclei_npy`), in each dataset's own type ids.
        npy_layout: ``'pannuke'`` (instance ids per type channel) or
            ``'conic'`` (``[instance, type]``).
        **kwargs: As :class:`mmengine.evaluator.BaseMetric`.
    """

    def __init__(self, postprocess: Optional[Mapping] = None,
                 report_by: Sequence = ('species',), ignore_index: int = 255,
                 types: bool = False, label_tree: Optional[Mapping] = None,
                 radius_um: float = 3.0, mpp: Optional[float] = None,
                 tissue_key: str = 'organ', npy_dir: Optional[str] = None,
                 npy_layout: str = 'pannuke', **kwargs) -> None:
        super().__init__(**kwargs)
        if npy_dir and not types:
            raise ValueError('GroupInstanceMetric(npy_dir=...) writes typed nuclei: set '
                             'types=True')
        self.npy = NucleiNpyWriter(npy_dir, npy_layout) if npy_dir else None
        self.postprocess = INSTANCE_POSTPROCESSORS.build(
            dict(postprocess or dict(type='ConnectedComponents')))
        self.report_by = parse_report_by(report_by)
        self.ignore_index = ignore_index
        self.types, self.radius_um, self.mpp, self.tissue_key = types, radius_um, mpp, tissue_key
        self.label_sets: Dict[str, _LabelSet] = {}
        if label_tree:
            tree = LabelTree.build(label_tree)
            matrix = tree.matrix.numpy()
            detection = getattr(tree, 'detection_only', torch.zeros(len(matrix), dtype=bool))
            for name, nodes in tree.label_sets.items():
                rows = slice(tree.offsets[name], tree.offsets[name] + len(nodes))
                self.label_sets[name] = _scored_label_set(
                    tree.offsets[name], nodes, matrix[rows], detection[rows].numpy())

    def _sample_label_set(self, sample: Mapping, label: np.ndarray) -> Optional[str]:
        """The sample's label set name (None without a tree)."""
        if not self.label_sets:
            return None
        if sample.get('label_set') in self.label_sets:
            return sample['label_set']
        by_offset = {info.offset: name for name, info in self.label_sets.items()}
        if 'label_offset' in sample and int(sample['label_offset']) in by_offset:
            return by_offset[int(sample['label_offset'])]
        valid = label[label != self.ignore_index]
        node = int(valid.flat[0]) if valid.size else 0
        return max((o, n) for o, n in by_offset.items() if o <= node)[1]

    def _set_info(self, label_set: Optional[str], leaves: int) -> _LabelSet:
        """A label set (None: ``dataset_meta['classes']``, leaves = classes)."""
        if label_set is None:
            classes = list(self.dataset_meta['classes'])
            return _scored_label_set(0, classes, np.eye(len(classes), max(leaves, len(classes))),
                                     np.zeros(len(classes), bool))
        return self.label_sets[label_set]

    def _prediction(self, sample: Mapping, info: _LabelSet):
        """Predicted instance map and ``types[k - 1]`` (scored class ids)."""
        if 'pred_instance_map' in sample:
            pred = _numpy(sample['pred_instance_map']).squeeze()
            if 'pred_instance_types' in sample:
                given = _numpy(sample['pred_instance_types']).astype(np.int64).ravel()
                unscored = (given < 0) | (given >= len(info.ids))
                unscored[~unscored] = info.ids[given[~unscored]] == 0
                if (unscored & (given != 0)).any():
                    raise ValueError(f'{sample.get("img_path", "sample")}: pred_instance_types '
                                     f'{sorted(set(given[unscored & (given != 0)].tolist()))} '
                                     'are no class of the label set (detection-only or '
                                     'unknown); give pred_instance_leaf_probs instead')
                return pred, info.ids[given]
            probs = _numpy(sample['pred_instance_leaf_probs']).astype(np.float64)
            return pred, (probs @ info.matrix.T).argmax(axis=1)
        pred = self.postprocess(_numpy(sample['pred_sem_seg']).squeeze(0))
        probs = sample['seg_logits']['data'].float().softmax(dim=0).cpu().numpy()
        return pred, instance_types_from_probabilities(pred, probs, info.matrix)[0]

    def _typed(self, sample: Mapping, true: np.ndarray, label: np.ndarray,
               ignore: np.ndarray) -> Tuple[dict, np.ndarray]:
        """Typed counts of a sample (with its label set) and the predicted
        map without the instances typed background (spilled in the npy
        layout with ``npy_dir``)."""
        leaves = len(sample['seg_logits']['data']) if 'seg_logits' in sample else 0
        label_set = self._sample_label_set(sample, label)
        info = self._set_info(label_set, leaves)
        mpp = sample.get('mpp') or self.mpp
        if mpp is None:
            raise KeyError(f'{sample.get("img_path", "sample")}: no mpp metainfo; add the '
                           'manifest column mpp to meta_keys or set GroupInstanceMetric(mpp=...)')
        pred, pred_types = self._prediction(sample, info)
        own = label - info.offset
        known = ~ignore & (own >= 0) & (own < len(info.ids))
        type_map = np.where(known, info.ids[np.where(known, own, 0)], -1)
        true_types = instance_types_from_map(true, type_map, len(info.classes))
        counts = typed_image_counts(true, true_types, pred, pred_types, len(info.classes),
                                    ignore, float(mpp), self.radius_um)
        counts.update(label_set=label_set, tissue=str(sample.get(self.tissue_key, '')))
        pred = drop_background_typed(pred, pred_types)
        if self.npy is not None:
            own = np.flatnonzero((info.ids != 0) | (np.arange(len(info.ids)) == 0))
            counts['npy_part'] = self.npy.add(
                get_rank(), str(sample.get('img_path', '')), len(info.ids) - 1,
                true, own[true_types], pred, own[np.asarray(pred_types, np.int64)])
        return counts, pred

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            groups = sample_groups(sample, self.report_by)
            label = sample['gt_sem_seg']['data'].squeeze(0).cpu().numpy().astype(np.int64)
            ignore = label == self.ignore_index
            if 'gt_instance_map' in sample:
                true = sample['gt_instance_map']['data'].squeeze(0).cpu().numpy()
            elif self.types:
                raise KeyError(f'{sample.get("img_path", "sample")}: typed instance scores '
                               'need gt_instance_map (LoadInstanceMap in the test pipeline)')
            else:
                true = self.postprocess(label)
            true = true.astype(np.int64)
            typed = None
            if self.types:
                typed, pred = self._typed(sample, true, label, ignore)
            else:
                pred = self.postprocess(sample['pred_sem_seg']['data'].squeeze(0).cpu().numpy())
            counts = image_counts(true, pred, ignore)
            self.results.append(dict(counts=counts, typed=typed, groups=groups))

    def _scores(self, results: list) -> Dict[str, float]:
        scores = aggregate(r['counts'] for r in results)
        sets = {r['typed']['label_set'] for r in results} if self.types else set()
        if len(sets) == 1:  # typed keys need one label set
            classes = self._set_info(sets.pop(), 0).classes
            scores.update(typed_aggregate([r['typed'] for r in results], classes))
        return scores

    def compute_metrics(self, results: list) -> Dict[str, float]:
        if self.npy is not None:
            parts = defaultdict(list)
            for r in results:
                parts[r['typed']['label_set'] or ''].append(r['typed']['npy_part'])
            written = self.npy.assemble(parts)
            print_log(f'typed nuclei in the {self.npy.layout} npy layout: {written}',
                      logger=MMLogger.get_current_instance())
        metrics = self._scores(results)
        if self.types and self.label_sets:
            by_set = defaultdict(list)
            for r in results:
                by_set[r['typed']['label_set']].append(r)
            for name in (n for n in self.label_sets if n in by_set):
                metrics.update({f'labelset/{name}/{k}': v
                                for k, v in self._scores(by_set[name]).items()})
        metrics.update(scores_per_group(results, self.report_by, self._scores))
        logger = MMLogger.get_current_instance()
        print_log('Nucleus instance scores per group (%):\n'
                  + format_group_table(metrics, INSTANCE_COLUMNS), logger=logger)
        if self.types:
            print_log('Nucleus types per group, each in its own label set (%):\n'
                      + format_typed_tables(metrics), logger=logger)
        return metrics
