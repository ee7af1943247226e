"""Type-aware nucleus instance scores, each as its published script computes it.

Per image (:func:`typed_image_counts`), from true and predicted instance maps
with one type per instance (the dataset's own label ids, 0 background):

- matching: a true and a predicted nucleus match when IoU > 0.5 (unique),
  from one :func:`.instance_scores.intersections` table;
- per class ``c``: TP, FP, FN and summed IoU between the true nuclei of type
  ``c`` and the predicted ones of type ``c`` (PQ between the class-restricted
  maps, as HoVer-Net, PanNuke and CoNIC define it);
- detection: centroids paired as HoVer-Net's ``pair_coordinates``
  (Hungarian assignment on the centroid distances, then pairs farther apart
  than the radius dropped); the radius is in um, so it holds at any um/px.

Over a set (:func:`typed_scores`):

- ``bPQ``, ``mPQ`` (TissueImageAnalytics/PanNuke-metrics run.py): per image
  binary PQ and PQ per class, NaN where the image has no true nucleus (of
  that class; its false positives are then not counted); image mPQ is the
  NaN-mean over classes; both are averaged per tissue, then over tissues;
- ``mPQ+`` (TissueImageAnalytics/CoNIC compute_stats.py): per class TP, FP,
  FN and IoU summed over the set, PQ per class, mean over the classes;
- ``F1d``, per-type ``F1`` and ``acc_type`` (vqdang/hover_net compute_stats.py
  ``run_nuclei_type_stat``), from the centroid pairs of all images together.

The references guard their divisions with 1e-6 (PanNuke: SQ = IoU sum /
(TP + 1e-6); CoNIC: DQ and SQ); :data:`EPS` keeps it so values equal theirs.
"""
from __future__ import annotations

from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np
from scipy.optimize import linear_sum_assignment

from .instance_scores import intersections, kept_instances, pair_ious

__all__ = ['EPS', 'drop_background_typed', 'instance_types_from_map',
           'instance_types_from_probabilities', 'pair_centroids', 'typed_aggregate',
           'typed_image_counts', 'typed_scores']

#: The references' division guard (hover_net/PanNuke ``get_fast_pq``, CoNIC ``compute_stats``).
EPS = 1.0e-6
#: Per-image entries that add up over a set.
SUMMED = ('tp', 'fp', 'fn', 'iou_sum', 'n_true', 'n_pred', 'class_tp', 'class_fp', 'class_fn',
          'class_iou_sum', 'paired', 'unpaired_true', 'unpaired_pred')


def _instance_means(ids: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per-instance means (``n x channels``) of the channels of ``values``
    (channels x pixels) for ids 1..n (absent ids: 0), by bincount."""
    flat = ids.ravel()
    fg = flat > 0
    size = int(flat.max(initial=0)) + 1
    area = np.bincount(flat[fg], minlength=size)
    sums = np.stack([np.bincount(flat[fg], weights=v[fg], minlength=size)
                     for v in values], axis=1)[1:].astype(np.float64)
    return np.divide(sums, area[1:, None], out=np.zeros_like(sums), where=area[1:, None] > 0)


def instance_types_from_probabilities(instances: np.ndarray, leaf_probs: np.ndarray,
                                      node_matrix: np.ndarray
                                      ) -> Tuple[np.ndarray, np.ndarray]:
    """Types of predicted instances from per-pixel leaf probabilities.

    Args:
        instances: H x W ids (0 background).
        leaf_probs: C x H x W probabilities over the head's leaves (softmax).
        node_matrix: nodes x C 0/1 matrix of a label set (its rows of
            ``LabelTree.matrix``; node 0 background).

    Returns:
        ``types[k - 1]``, the node of largest probability, and
        ``node_probs[k - 1]``, the mean leaf probabilities of instance ``k``
        summed into the nodes (ids absent from the map: type 0, zeros).
    """
    ids = np.asarray(instances).astype(np.int64, copy=False)
    probs = np.asarray(leaf_probs, np.float64).reshape(len(leaf_probs), -1)
    node_probs = _instance_means(ids, probs) @ np.asarray(node_matrix, np.float64).T
    return node_probs.argmax(axis=1), node_probs


def instance_types_from_map(instances: np.ndarray, type_map: np.ndarray,
                            num_classes: int) -> np.ndarray:
    """``types[k - 1]``: the most frequent type 1..num_classes-1 among the
    pixels of instance ``k`` (ties: the smaller id; none: 0). Other values of
    ``type_map`` (background, ignore) do not vote."""
    ids = np.asarray(instances).astype(np.int64, copy=False).ravel()
    labels = np.asarray(type_map).astype(np.int64, copy=False).ravel()
    votes = (ids > 0) & (labels > 0) & (labels < num_classes)
    n = int(ids.max(initial=0))
    table = np.bincount(ids[votes] * num_classes + labels[votes],
                        minlength=(n + 1) * num_classes).reshape(n + 1, num_classes)[1:]
    return table.argmax(axis=1)


def drop_background_typed(pred: np.ndarray, pred_types: Sequence[int]) -> np.ndarray:
    """The instance map without the instances typed 0 (background); ids
    without a type (beyond ``pred_types``) are kept."""
    pred = np.asarray(pred).astype(np.int64, copy=False)
    lut = np.ones(int(pred.max(initial=0)) + 1, bool)
    given = np.asarray(pred_types, np.int64).ravel()[:len(lut) - 1]
    lut[1:len(given) + 1] = given != 0
    lut[0] = False
    return np.where(lut[pred], pred, 0)


def _types_of(types: Sequence[int], source: np.ndarray, num_classes: int, what: str
              ) -> np.ndarray:
    """The types of the kept instances (original ids ``source``), checked."""
    types = np.asarray(types, np.int64).ravel()
    if source.size and source.max() > len(types):
        raise ValueError(f'{what}: {len(types)} types for instance ids up to {source.max()}')
    kept = types[source - 1]
    bad = (kept < 0) | (kept >= num_classes)
    if bad.any():
        raise ValueError(f'{what}: types {sorted(set(kept[bad].tolist()))} outside '
                         f'0..{num_classes - 1}')
    return kept


def _centroids(ids: np.ndarray) -> np.ndarray:
    """(x, y) centroid of each instance 1..n of a renumbered map."""
    flat = np.flatnonzero(ids)
    y, x = np.divmod(flat, ids.shape[-1])
    return _instance_means(ids.ravel()[flat], np.stack([x, y]).astype(np.float64))


def pair_centroids(true_xy: np.ndarray, pred_xy: np.ndarray, radius: float
                   ) -> Tuple[np.ndarray, np.ndarray]:
    """HoVer-Net's ``pair_coordinates``: the assignment of least summed
    Euclidean distance, pairs farther apart than ``radius`` dropped.

    Returns:
        Indices of the paired true and predicted points.
    """
    dist = np.sqrt(((true_xy[:, None, :] - pred_xy[None, :, :]) ** 2).sum(-1))
    rows, cols = linear_sum_assignment(dist)
    near = dist[rows, cols] <= radius
    return rows[near], cols[near]


def _pannuke_pq(tp, fp, fn, iou_sum):
    """PQ as hover_net/PanNuke ``get_fast_pq``; NaN without a true instance."""
    tp, fp, fn = (np.asarray(v, np.float64) for v in (tp, fp, fn))
    with np.errstate(invalid='ignore', divide='ignore'):
        pq = tp / (tp + 0.5 * fp + 0.5 * fn) * (iou_sum / (tp + EPS))
    return np.where(tp + fn > 0, pq, np.nan)


def _conic_pq(tp, fp, fn, iou_sum):
    """PQ as CoNIC ``compute_stats`` (0 for a class absent from the set)."""
    return tp / (tp + 0.5 * fp + 0.5 * fn + EPS) * (iou_sum / (tp + EPS))


def typed_image_counts(true: np.ndarray, true_types: Sequence[int], pred: np.ndarray,
                       pred_types: Sequence[int], num_classes: int,
                       ignore: Optional[np.ndarray] = None, mpp: float = 0.25,
                       radius_um: float = 3.0) -> Dict[str, object]:
    """What one image contributes to :func:`typed_scores`.

    Args:
        true, pred: H x W instance maps (any non-negative ids).
        true_types, pred_types: ``types[k - 1]`` is the type of instance id
            ``k`` (dataset label ids; 0 background). Predictions of type 0 are
            dropped before matching; true ones count for detection and
            binary PQ only.
        num_classes: Classes of the label set, background included.
        ignore: Boolean mask; instances with more than half of their pixels
            in it are left out, the others lose those pixels.
        mpp: um per pixel of the maps.
        radius_um: Centroid pairing radius (HoVer-Net: 12 px at 0.25 um/px).

    Returns:
        Binary ``tp``, ``fp``, ``fn``, ``iou_sum``, ``n_true``, ``n_pred``;
        per class (arrays indexed by type id) ``class_tp``, ``class_fp``,
        ``class_fn``, ``class_iou_sum``; PanNuke's per-image ``pq`` and
        ``class_pq`` (NaN where no true nucleus); detection ``paired``
        (true type x predicted type counts), ``unpaired_true`` and
        ``unpaired_pred`` (counts per type).
    """
    k = num_classes
    pred = drop_background_typed(pred, pred_types)
    true, true_source = kept_instances(true, ignore)
    pred, pred_source = kept_instances(pred, ignore)
    t_type = _types_of(true_types, true_source, k, 'true_types')
    p_type = _types_of(pred_types, pred_source, k, 'pred_types')

    iou = pair_ious(intersections(true, pred))[0]
    ti, pj = np.nonzero(iou > 0.5)
    matched_iou = iou[ti, pj]
    same = t_type[ti] == p_type[pj]
    class_tp = np.bincount(t_type[ti][same], minlength=k)
    class_iou = np.bincount(t_type[ti][same], weights=matched_iou[same], minlength=k)
    class_fp = np.bincount(p_type, minlength=k) - class_tp
    class_fn = np.bincount(t_type, minlength=k) - class_tp
    tp = len(ti)
    counts = dict(tp=tp, fp=len(p_type) - tp, fn=len(t_type) - tp,
                  iou_sum=float(matched_iou.sum()), n_true=len(t_type), n_pred=len(p_type),
                  class_tp=class_tp, class_fp=class_fp, class_fn=class_fn,
                  class_iou_sum=class_iou)
    counts['pq'] = float(_pannuke_pq(tp, counts['fp'], counts['fn'], counts['iou_sum']))
    counts['class_pq'] = _pannuke_pq(class_tp, class_fp, class_fn, class_iou)
    counts['class_pq'][0] = np.nan

    a, b = pair_centroids(_centroids(true), _centroids(pred), radius_um / mpp)
    counts['paired'] = np.bincount(t_type[a] * k + p_type[b], minlength=k * k).reshape(k, k)
    unpaired_true, unpaired_pred = np.ones(len(t_type), bool), np.ones(len(p_type), bool)
    unpaired_true[a] = unpaired_pred[b] = False
    counts['unpaired_true'] = np.bincount(t_type[unpaired_true], minlength=k)
    counts['unpaired_pred'] = np.bincount(p_type[unpaired_pred], minlength=k)
    return counts


def _nanmean(values) -> float:
    values = np.asarray(values, np.float64)
    finite = values[~np.isnan(values)]
    return float(finite.mean()) if finite.size else float('nan')


def _tissue_mean(per_image: np.ndarray, tissues: List[str]) -> float:
    """NaN-mean per tissue, then NaN-mean over tissues (PanNuke run.py)."""
    names = list(dict.fromkeys(tissues))
    return _nanmean([_nanmean(per_image[[t == n for t in tissues]]) for n in names])


def _ratio(a, b):
    with np.errstate(invalid='ignore', divide='ignore'):
        return np.asarray(a, np.float64) / b


def typed_scores(images: Iterable[Mapping[str, object]], num_classes: int
                 ) -> Dict[str, object]:
    """Scores (fractions) of a set of :func:`typed_image_counts`, each image
    optionally with a ``tissue`` name (absent: one tissue).

    Returns:
        ``bPQ``, ``mPQ`` (PanNuke), ``mPQ+`` (CoNIC), ``F1d`` and
        ``acc_type`` (HoVer-Net), and arrays indexed by type id (index 0
        NaN): ``PQ`` (CoNIC's per-class PQ, whose mean is mPQ+) and ``F1``
        (HoVer-Net's per-type F1, weights 2, 2, 1, 1).
    """
    images = list(images)
    k = num_classes
    if not images:
        return {**dict.fromkeys(('bPQ', 'mPQ', 'mPQ+', 'F1d', 'acc_type'), float('nan')),
                'PQ': np.full(k, np.nan), 'F1': np.full(k, np.nan)}
    total = {key: sum(np.asarray(img[key], np.float64) for img in images) for key in SUMMED}
    tissues = [str(img.get('tissue', '')) for img in images]
    binary_pq = np.array([img['pq'] for img in images], np.float64)
    image_mpq = np.array([_nanmean(np.asarray(img['class_pq'])[1:]) for img in images])
    not_background = np.arange(k) > 0
    class_pq = np.where(not_background, _conic_pq(
        total['class_tp'], total['class_fp'], total['class_fn'], total['class_iou_sum']), np.nan)

    paired = total['paired']
    hit = np.diag(paired)
    tp_d, fp_d, fn_d = paired.sum(), total['unpaired_pred'].sum(), total['unpaired_true'].sum()
    # Restricted to the pairs where either side is of type c, HoVer-Net's tn_dt is 0.
    f1 = _ratio(2 * hit, 2 * hit + 2 * (paired.sum(0) - hit) + 2 * (paired.sum(1) - hit)
                + total['unpaired_pred'] + total['unpaired_true'])
    return {'bPQ': _tissue_mean(binary_pq, tissues), 'mPQ': _tissue_mean(image_mpq, tissues),
            'mPQ+': float(class_pq[1:].mean()) if k > 1 else float('nan'),
            'F1d': float(_ratio(2 * tp_d, 2 * tp_d + fp_d + fn_d)),
            'acc_type': float(_ratio(hit.sum(), tp_d)), 'PQ': class_pq,
            'F1': np.where(not_background, f1, np.nan)}


def typed_aggregate(images: Iterable[Mapping[str, object]], classes: Sequence[str]
                    ) -> Dict[str, float]:
    """:func:`typed_scores` in percent (2 decimals) as flat keys ``bPQ``,
    ``mPQ``, ``mPQ+``, ``F1d``, ``acc_type``, ``PQ_<class>``, ``F1_<class>``
    for the classes after background (``classes[0]``)."""
    scores = typed_scores(images, len(classes))
    out = {key: scores[key] for key in ('bPQ', 'mPQ', 'mPQ+', 'F1d', 'acc_type')}
    for c, name in enumerate(classes[1:], start=1):
        out[f'PQ_{name}'], out[f'F1_{name}'] = scores['PQ'][c], scores['F1'][c]
    return {key: round(float(v) * 100, 2) for key, v in out.items()}
