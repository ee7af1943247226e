"""Nucleus instance scores of one image and of a set: PQ, DQ, SQ, AJI, AJI+, F1.

Definitions (instances as pixel sets; ``|.|`` is area):

- PQ (Kirillov et al., 2019): a true and a predicted instance match when
  IoU > 0.5 (such a match is unique). ``DQ = TP / (TP + FP/2 + FN/2)``
  (equal to the detection F1), ``SQ`` = mean IoU of the matches,
  ``PQ = DQ * SQ``.
- AJI (Kumar et al., 2017): each true instance is paired with the predicted
  one of highest IoU (none if it overlaps none); ``C`` sums the pairs'
  intersections, ``U`` their unions plus the areas of unpaired true and
  never-chosen predicted instances; ``AJI = C / U``. A prediction may be
  chosen by several true instances (as in the paper and HoVer-Net).
- AJI+ (Graham et al., 2019): as AJI with a one-to-one pairing maximising
  the summed IoU (Hungarian algorithm).

The intersections of all (true, predicted) pairs come from one
``np.bincount`` over the pixels' id pairs, not from mask comparisons.
"""
from __future__ import annotations

from typing import Dict, Iterable, Mapping, Optional, Tuple

import numpy as np
from scipy.optimize import linear_sum_assignment

__all__ = ['COUNTS', 'aggregate', 'drop_ignored', 'image_counts', 'intersections',
           'kept_instances', 'pair_ious', 'scores_from_counts']

#: What one image contributes; the set's scores are functions of their sums.
COUNTS = ('tp', 'fp', 'fn', 'iou_sum', 'aji_inter', 'aji_union', 'ajip_inter', 'ajip_union',
          'n_true', 'n_pred')
#: Scores, each computed per image and for the set.
SCORES = ('PQ', 'DQ', 'SQ', 'AJI', 'AJI+', 'precision', 'recall', 'F1')


def intersections(true: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Pixel counts of every (true id, predicted id) pair: ``table[i, j]`` for
    instance maps numbered 0..n (row and column 0 are background)."""
    n_pred = int(pred.max(initial=0)) + 1
    pairs = true.ravel().astype(np.int64) * n_pred + pred.ravel()
    size = (int(true.max(initial=0)) + 1) * n_pred
    return np.bincount(pairs, minlength=size).reshape(-1, n_pred)


def kept_instances(ids: np.ndarray, ignore: Optional[np.ndarray] = None
                   ) -> Tuple[np.ndarray, np.ndarray]:
    """Apply the ignore rule to an instance map: leave out instances with more
    than half of their pixels in ``ignore`` and the ignored pixels of the
    others; renumber 1..n in increasing order of the original ids.

    Returns:
        The renumbered map (int64) and ``source``: the original id of each
        kept instance (``source[k - 1]`` for instance ``k``).
    """
    ids = np.asarray(ids).astype(np.int64, copy=False)
    if ids.size and ids.min() < 0:
        raise ValueError('instance ids must be non-negative')
    areas = np.bincount(ids.ravel(), minlength=1)
    keep = areas > 0
    if ignore is not None and ignore.any():
        inside = np.bincount(ids[ignore], minlength=len(areas))
        keep &= 2 * inside <= areas
    keep[0] = False
    source = np.flatnonzero(keep)
    lut = np.zeros(len(areas), np.int64)
    lut[source] = np.arange(1, len(source) + 1)
    kept = lut[ids]
    if ignore is not None:
        kept[ignore] = 0
    return kept, source


def drop_ignored(ids: np.ndarray, ignore: Optional[np.ndarray]) -> np.ndarray:
    """The renumbered map of :func:`kept_instances`."""
    return kept_instances(ids, ignore)[0]


def pair_ious(table: np.ndarray) -> Tuple[np.ndarray, ...]:
    """From an :func:`intersections` table: the IoU, intersection and union of
    every (true, predicted) pair (``[i - 1, j - 1]`` for ids ``i``, ``j``)
    and the areas of the true and the predicted instances."""
    area_true, area_pred = table[1:].sum(1), table[:, 1:].sum(0)
    inter = table[1:, 1:].astype(np.float64)
    union = area_true[:, None] + area_pred[None, :] - inter
    iou = np.divide(inter, union, out=np.zeros_like(inter), where=inter > 0)
    return iou, inter, union, area_true, area_pred


def _aji(inter: np.ndarray, union: np.ndarray, rows: np.ndarray, cols: np.ndarray,
         area_true: np.ndarray, area_pred: np.ndarray):
    """C and U of a pairing (``rows[k]`` with ``cols[k]``)."""
    paired_true = np.zeros(len(area_true), bool)
    paired_pred = np.zeros(len(area_pred), bool)
    paired_true[rows] = paired_pred[cols] = True
    return (float(inter[rows, cols].sum()),
            float(union[rows, cols].sum() + area_true[~paired_true].sum()
                  + area_pred[~paired_pred].sum()))


def image_counts(true: np.ndarray, pred: np.ndarray, ignore: Optional[np.ndarray] = None
                 ) -> Dict[str, float]:
    """The :data:`COUNTS` of one image's true and predicted instance maps
    (any non-negative ids; ``ignore``: boolean mask of ignored pixels)."""
    true, pred = drop_ignored(true, ignore), drop_ignored(pred, ignore)
    iou, inter, union, area_true, area_pred = pair_ious(intersections(true, pred))
    matched = iou > 0.5
    tp = int(matched.sum())
    counts = dict(tp=tp, fp=len(area_pred) - tp, fn=len(area_true) - tp,
                  iou_sum=float(iou[matched].sum()), n_true=len(area_true),
                  n_pred=len(area_pred))
    rows = np.flatnonzero(iou.max(axis=1, initial=0) > 0)
    cols = iou[rows].argmax(axis=1) if rows.size else rows
    counts['aji_inter'], counts['aji_union'] = _aji(inter, union, rows, cols, area_true,
                                                    area_pred)
    rows, cols = linear_sum_assignment(-iou)
    hit = iou[rows, cols] > 0
    counts['ajip_inter'], counts['ajip_union'] = _aji(
        inter, union, rows[hit], cols[hit], area_true, area_pred)
    return counts


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else float('nan')


def scores_from_counts(c: Mapping[str, float]) -> Dict[str, float]:
    """:data:`SCORES` (fractions) from one image's or a set's summed counts.

    With no instance at all every score is NaN; with instances but no match,
    SQ is NaN and PQ, DQ, F1 are 0.
    """
    dq = _ratio(c['tp'], c['tp'] + 0.5 * (c['fp'] + c['fn']))
    sq = _ratio(c['iou_sum'], c['tp'])
    return dict(PQ=dq * sq if c['tp'] else dq, DQ=dq, SQ=sq,
                AJI=_ratio(c['aji_inter'], c['aji_union']),
                **{'AJI+': _ratio(c['ajip_inter'], c['ajip_union'])},
                precision=_ratio(c['tp'], c['tp'] + c['fp']),
                recall=_ratio(c['tp'], c['tp'] + c['fn']), F1=dq)


def aggregate(images: Iterable[Mapping[str, float]]) -> Dict[str, float]:
    """A set's scores in percent: ``<score>`` from the summed counts (PQ from
    summed TP/FP/FN and matched IoU, AJI from summed C and U), ``<score>_img``
    and ``<score>_img_std`` the mean and standard deviation of the per-image
    scores (images where a score is undefined left out), ``nuclei``/
    ``nuclei_pred`` the instance counts."""
    images = list(images)
    total = {k: sum(img[k] for img in images) for k in COUNTS}
    out = {k: v * 100 for k, v in scores_from_counts(total).items()}
    per_image = [scores_from_counts(img) for img in images]
    for name in SCORES:
        values = np.array([s[name] for s in per_image], np.float64) * 100
        finite = values[np.isfinite(values)]
        out[f'{name}_img'] = float(finite.mean()) if finite.size else float('nan')
        out[f'{name}_img_std'] = float(finite.std()) if finite.size else float('nan')
    out = {k: round(v, 2) for k, v in out.items()}
    out.update(nuclei=int(total['n_true']), nuclei_pred=int(total['n_pred']))
    return out
