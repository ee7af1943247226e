"""Typed instance scores against the published scripts, re-written here the
way they compute (per-pair mask loops, per-class accumulation, centroid
pairing), on random typed maps and on hand-built cases:

- hover_net / PanNuke-metrics ``get_fast_pq``, ``remap_label`` and PanNuke's
  run.py (bPQ, mPQ: NaN for a class absent from an image, tissue means);
- CoNIC compute_stats.py / ``get_multi_pq_info`` (mPQ+);
- hover_net compute_stats.py ``run_nuclei_type_stat`` and ``pair_coordinates``
  (F1d, per-type F1, type accuracy).

Departures of the published scripts that these references do not copy
(documented in docs/evaluation.md): run.py's typos (``pq = np.nan`` for
``pq_tmp``, undefined ``all_tissue_PQ``), HoVer-Net's dummy nucleus at (0, 0)
for an image without nuclei, and its centroids truncated to int32.
"""
import warnings

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from crossspec_mmseg.evaluation.typed_instance_scores import (
    instance_types_from_map,
    instance_types_from_probabilities,
    typed_aggregate,
    typed_image_counts,
    typed_scores,
)

NUM_CLASSES = 5  # background + 4 types
TISSUES = ('Breast', 'Colon', 'Kidney')


# ----------------------------------------------------------------- references
def remap_label(pred):
    pred_id = list(np.unique(pred))
    pred_id.remove(0)
    if len(pred_id) == 0:
        return pred
    new_pred = np.zeros(pred.shape, np.int32)
    for idx, inst_id in enumerate(pred_id):
        new_pred[pred == inst_id] = idx + 1
    return new_pred


def get_fast_pq(true, pred, match_iou=0.5):
    """hover_net / PanNuke-metrics ``get_fast_pq`` (match_iou >= 0.5 branch)."""
    true_id_list = list(np.unique(true))
    pred_id_list = list(np.unique(pred))
    true_masks = [None] + [np.array(true == t, np.uint8) for t in true_id_list[1:]]
    pred_masks = [None] + [np.array(pred == p, np.uint8) for p in pred_id_list[1:]]
    pairwise_iou = np.zeros([len(true_id_list) - 1, len(pred_id_list) - 1], dtype=np.float64)
    for true_id in true_id_list[1:]:
        t_mask = true_masks[true_id]
        for pred_id in list(np.unique(pred[t_mask > 0])):
            if pred_id == 0:
                continue
            p_mask = pred_masks[pred_id]
            total = (t_mask + p_mask).sum()
            inter = (t_mask * p_mask).sum()
            pairwise_iou[true_id - 1, pred_id - 1] = inter / (total - inter)
    pairwise_iou[pairwise_iou <= match_iou] = 0.0
    paired_true, paired_pred = np.nonzero(pairwise_iou)
    paired_iou = pairwise_iou[paired_true, paired_pred]
    paired_true += 1
    paired_pred += 1
    unpaired_true = [idx for idx in true_id_list[1:] if idx not in paired_true]
    unpaired_pred = [idx for idx in pred_id_list[1:] if idx not in paired_pred]
    tp, fp, fn = len(paired_true), len(unpaired_pred), len(unpaired_true)
    dq = tp / (tp + 0.5 * fp + 0.5 * fn)
    sq = paired_iou.sum() / (tp + 1.0e-6)
    return [dq, sq, dq * sq], [paired_true, paired_pred, unpaired_true, unpaired_pred]


def pannuke_run(images):
    """PanNuke-metrics run.py on per-class channels of instance ids."""
    mpq_all, bpq_all = [], []
    for img in images:
        true_ch, pred_ch = img['true_channels'], img['pred_channels']
        true_bin, pred_bin = remap_label(img['true']), remap_label(img['pred'])
        if len(np.unique(true_bin)) == 1:
            pq_bin = np.nan
        else:
            [_, _, pq_bin], _ = get_fast_pq(true_bin, pred_bin)
        pq = []
        for j in range(true_ch.shape[-1]):
            true_tmp = remap_label(true_ch[..., j].astype('int32'))
            pred_tmp = remap_label(pred_ch[..., j].astype('int32'))
            if len(np.unique(true_tmp)) == 1:
                pq_tmp = np.nan
            else:
                [_, _, pq_tmp], _ = get_fast_pq(true_tmp, pred_tmp)
            pq.append(pq_tmp)
        mpq_all.append(pq)
        bpq_all.append([pq_bin])
    with warnings.catch_warnings():  # nanmean of all-NaN lists warns, as in run.py
        warnings.simplefilter('ignore', RuntimeWarning)
        mpq_each = [np.nanmean(pq) for pq in mpq_all]
        bpq_each = [np.nanmean(pq) for pq in bpq_all]
        tissue_mpq, tissue_bpq = [], []
        for tissue in TISSUES:
            idx = [i for i, img in enumerate(images) if img['tissue'] == tissue]
            tissue_mpq.append(np.nanmean([mpq_each[i] for i in idx]))
            tissue_bpq.append(np.nanmean([bpq_each[i] for i in idx]))
        return np.nanmean(tissue_mpq), np.nanmean(tissue_bpq), mpq_all, bpq_all


def get_bounding_box(img):
    """CoNIC misc/utils.py: [rmin, rmax, cmin, cmax), end exclusive."""
    rows, cols = np.any(img, axis=1), np.any(img, axis=0)
    rmin, rmax = np.where(rows)[0][[0, -1]]
    cmin, cmax = np.where(cols)[0][[0, -1]]
    return [rmin, rmax + 1, cmin, cmax + 1]


def conic_get_pq(true, pred, match_iou=0.5):
    """CoNIC metrics/stats_utils.py ``get_pq`` (bounding-box crops; remap=False):
    [tp, fp, fn] and the IoU sum of the pairs."""
    true_id_list, pred_id_list = list(np.unique(true)), list(np.unique(pred))
    pairwise_iou = np.zeros([len(true_id_list), len(pred_id_list)], dtype=np.float64)
    for true_id in true_id_list[1:]:
        t_mask_lab = true == true_id
        rmin1, rmax1, cmin1, cmax1 = get_bounding_box(t_mask_lab)
        t_mask_crop = t_mask_lab[rmin1:rmax1, cmin1:cmax1].astype('int')
        p_mask_crop = pred[rmin1:rmax1, cmin1:cmax1]
        for pred_id in list(np.unique(p_mask_crop[t_mask_crop > 0])):
            if pred_id == 0:
                continue
            p_mask_lab = (pred == pred_id).astype('int')
            rmin2, rmax2, cmin2, cmax2 = get_bounding_box(p_mask_lab)
            rmin, rmax = min(rmin1, rmin2), max(rmax1, rmax2)
            cmin, cmax = min(cmin1, cmin2), max(cmax1, cmax2)
            t_mask_crop2 = t_mask_lab[rmin:rmax, cmin:cmax]
            p_mask_crop2 = p_mask_lab[rmin:rmax, cmin:cmax]
            total = (t_mask_crop2 + p_mask_crop2).sum()
            inter = (t_mask_crop2 * p_mask_crop2).sum()
            pairwise_iou[true_id - 1, pred_id - 1] = inter / (total - inter)
    pairwise_iou[pairwise_iou <= match_iou] = 0.0
    paired_true, paired_pred = np.nonzero(pairwise_iou)
    paired_iou = pairwise_iou[paired_true, paired_pred]
    paired_true += 1
    paired_pred += 1
    unpaired_true = [idx for idx in true_id_list[1:] if idx not in paired_true]
    unpaired_pred = [idx for idx in pred_id_list[1:] if idx not in paired_pred]
    return [len(paired_true), len(unpaired_pred), len(unpaired_true)], paired_iou.sum()


def conic_mpq(images, nr_classes=NUM_CLASSES - 1):
    """CoNIC compute_stats.py: get_multi_pq_info per image, summed, PQ per class."""
    mpq_info_list = []
    for img in images:
        mpq_info = []
        for idx in range(nr_classes):
            pred_inst = remap_label(img['pred'] * (img['pred_class'] == idx + 1))
            true_inst = remap_label(img['true'] * (img['true_class'] == idx + 1))
            (tp, fp, fn), sum_iou = conic_get_pq(true_inst, pred_inst)
            mpq_info.append([tp, fp, fn, sum_iou])
        mpq_info_list.append(mpq_info)
    total = np.sum(np.array(mpq_info_list, dtype='float'), axis=0)
    mpq_list = []
    for cat_idx in range(total.shape[0]):
        tp, fp, fn, sum_iou = total[cat_idx]
        dq = tp / ((tp + 0.5 * fp + 0.5 * fn) + 1.0e-6)
        sq = sum_iou / (tp + 1.0e-6)
        mpq_list.append(dq * sq)
    return np.mean(mpq_list), np.array(mpq_list)


def pair_coordinates(setA, setB, radius):
    """hover_net metrics/stats_utils.py ``pair_coordinates``."""
    setA_tile = np.repeat(np.expand_dims(setA, axis=1), setB.shape[0], axis=1)
    setB_tile = np.repeat(np.expand_dims(setB, axis=0), setA.shape[0], axis=0)
    pair_distance = np.sqrt(np.sum((setA_tile - setB_tile) ** 2, axis=-1))
    indicesA, paired_indicesB = linear_sum_assignment(pair_distance)
    pair_cost = pair_distance[indicesA, paired_indicesB]
    pairedA = indicesA[pair_cost <= radius]
    pairedB = paired_indicesB[pair_cost <= radius]
    unpairedA = [idx for idx in range(setA.shape[0]) if idx not in list(pairedA)]
    unpairedB = [idx for idx in range(setB.shape[0]) if idx not in list(pairedB)]
    return (np.array(list(zip(pairedA, pairedB))), np.array(unpairedA, dtype=np.int64),
            np.array(unpairedB, dtype=np.int64))


def centroids_and_types(ids, classes):
    """(x, y) centroid and type of each instance, by mask."""
    xy, types = [], []
    for i in np.unique(ids)[1:]:
        ys, xs = np.nonzero(ids == i)
        xy.append([xs.mean(), ys.mean()])
        types.append(int(classes[ids == i][0]))
    return np.array(xy, np.float64).reshape(-1, 2), np.array(types, np.int64)


def hovernet_type_stat(images, type_uid_list):
    """hover_net compute_stats.py ``run_nuclei_type_stat`` (no dummy nucleus)."""
    paired_all, unpaired_true_all, unpaired_pred_all = [], [], []
    true_inst_type_all, pred_inst_type_all = [], []
    true_idx_offset = pred_idx_offset = 0
    for idx, img in enumerate(images):
        true_centroid, true_inst_type = centroids_and_types(img['true'], img['true_class'])
        pred_centroid, pred_inst_type = centroids_and_types(img['pred'], img['pred_class'])
        paired, unpaired_true, unpaired_pred = pair_coordinates(
            true_centroid, pred_centroid, img['radius_px'])
        true_idx_offset = true_idx_offset + true_inst_type_all[-1].shape[0] if idx != 0 else 0
        pred_idx_offset = pred_idx_offset + pred_inst_type_all[-1].shape[0] if idx != 0 else 0
        true_inst_type_all.append(true_inst_type)
        pred_inst_type_all.append(pred_inst_type)
        if paired.shape[0] != 0:
            paired[:, 0] += true_idx_offset
            paired[:, 1] += pred_idx_offset
            paired_all.append(paired)
        unpaired_true_all.append(unpaired_true + true_idx_offset)
        unpaired_pred_all.append(unpaired_pred + pred_idx_offset)
    paired_all = np.concatenate(paired_all, axis=0) if paired_all else np.zeros((0, 2), int)
    unpaired_true_all = np.concatenate(unpaired_true_all, axis=0)
    unpaired_pred_all = np.concatenate(unpaired_pred_all, axis=0)
    true_inst_type_all = np.concatenate(true_inst_type_all, axis=0)
    pred_inst_type_all = np.concatenate(pred_inst_type_all, axis=0)
    paired_true_type = true_inst_type_all[paired_all[:, 0]]
    paired_pred_type = pred_inst_type_all[paired_all[:, 1]]
    unpaired_true_type = true_inst_type_all[unpaired_true_all]
    unpaired_pred_type = pred_inst_type_all[unpaired_pred_all]

    def _f1_type(paired_true, paired_pred, unpaired_true, unpaired_pred, type_id, w):
        type_samples = (paired_true == type_id) | (paired_pred == type_id)
        paired_true = paired_true[type_samples]
        paired_pred = paired_pred[type_samples]
        tp_dt = ((paired_true == type_id) & (paired_pred == type_id)).sum()
        tn_dt = ((paired_true != type_id) & (paired_pred != type_id)).sum()
        fp_dt = ((paired_true != type_id) & (paired_pred == type_id)).sum()
        fn_dt = ((paired_true == type_id) & (paired_pred != type_id)).sum()
        fp_d = (unpaired_pred == type_id).sum()
        fn_d = (unpaired_true == type_id).sum()
        with np.errstate(all='ignore'):
            return (2 * (tp_dt + tn_dt)) / (2 * (tp_dt + tn_dt) + w[0] * fp_dt + w[1] * fn_dt
                                            + w[2] * fp_d + w[3] * fn_d)

    w = [1, 1]
    tp_d = paired_pred_type.shape[0]
    fp_d = unpaired_pred_type.shape[0]
    fn_d = unpaired_true_type.shape[0]
    tp_tn_dt = (paired_pred_type == paired_true_type).sum()
    fp_fn_dt = (paired_pred_type != paired_true_type).sum()
    with np.errstate(all='ignore'):
        acc_type = np.float64(tp_tn_dt) / (tp_tn_dt + fp_fn_dt)
        f1_d = np.float64(2 * tp_d) / (2 * tp_d + w[0] * fp_d + w[1] * fn_d)
    w = [2, 2, 1, 1]
    f1 = [_f1_type(paired_true_type, paired_pred_type, unpaired_pred_type, unpaired_true_type,
                   t, w) for t in type_uid_list]
    return f1_d, acc_type, np.array(f1, np.float64)


# ------------------------------------------------------------------ test data
def random_typed_image(rng, size=32):
    """Typed true nuclei (some overlapping, so touching) and a prediction that
    misses, shifts, splits, merges, mistypes, invents and backgrounds some;
    ids not contiguous; sometimes an ignore region."""
    true = np.zeros((size, size), np.int64)
    n_true = rng.choice([0, 0, 1, 3, 6, 9])
    true_types = np.zeros(3 * 9 + 1, np.int64)
    used_types = rng.choice(np.arange(1, NUM_CLASSES), rng.integers(1, 4), replace=False)
    for k in range(1, n_true + 1):
        y, x = rng.integers(0, size - 4, 2)
        h, w = rng.integers(3, 9, 2)
        true[y:y + h, x:x + w] = 3 * k  # later nuclei overlap earlier ones
        true_types[3 * k - 1] = rng.choice(used_types)
    pred = np.zeros_like(true)
    pred_types = np.zeros(200, np.int64)
    no_prediction = rng.random() < 0.1
    for k in np.unique(true[true > 0]):
        if no_prediction or rng.random() < 0.15:
            continue
        m = np.roll(true == k, tuple(rng.integers(-2, 3, 2)), axis=(0, 1))
        pred[m] = 2 * k
        pred_types[2 * k - 1] = (true_types[k - 1] if rng.random() < 0.7
                                 else rng.integers(0, NUM_CLASSES))
        if rng.random() < 0.2:  # split in two
            ys = np.nonzero(m)[0]
            pred[m & (np.arange(size)[:, None] > ys.mean())] = 2 * k + 1
            pred_types[2 * k] = rng.integers(1, NUM_CLASSES)
    ids = np.unique(pred[pred > 0])
    if len(ids) > 1 and rng.random() < 0.3:  # merge two
        pred[pred == ids[1]] = ids[0]
    if not no_prediction and rng.random() < 0.6:  # a false nucleus
        y, x = rng.integers(0, size - 4, 2)
        pred[y:y + 4, x:x + 4] = 150
        pred_types[149] = rng.integers(1, NUM_CLASSES)
    ignore = np.zeros_like(true, bool)
    if rng.random() < 0.3:
        y, x = rng.integers(0, size - 8, 2)
        ignore[y:y + 8, x:x + 8] = True
    mpp = float(rng.choice([0.25, 0.5, 1.0]))
    return dict(true=true, true_types=true_types, pred=pred, pred_types=pred_types,
                ignore=ignore, mpp=mpp, tissue=str(rng.choice(TISSUES)))


def as_reference_input(img, radius_um=3.0, num_classes=NUM_CLASSES):
    """The maps the published scripts read: the ignore rule and the dropping
    of background-typed predictions applied by mask, then type maps and
    PanNuke's per-class channels of instance ids."""
    def kept(ids, types, drop_background):
        out = np.zeros_like(ids)
        for i in np.unique(ids)[1:]:
            m = ids == i
            if drop_background and types[i - 1] == 0:
                continue
            if 2 * (m & img['ignore']).sum() <= m.sum():
                out[m & ~img['ignore']] = i
        return out
    true = kept(img['true'], img['true_types'], False)
    pred = kept(img['pred'], img['pred_types'], True)
    true_class = np.concatenate([[0], img['true_types']])[true]
    pred_class = np.concatenate([[0], img['pred_types']])[pred]
    channels = [np.stack([ids * (cls == c) for c in range(1, num_classes)], -1)
                for ids, cls in ((true, true_class), (pred, pred_class))]
    return dict(true=true, pred=pred, true_class=true_class, pred_class=pred_class,
                true_channels=channels[0], pred_channels=channels[1], tissue=img['tissue'],
                radius_px=radius_um / img['mpp'])


def ours(img, radius_um=3.0):
    counts = typed_image_counts(img['true'], img['true_types'], img['pred'], img['pred_types'],
                                NUM_CLASSES, img['ignore'], img['mpp'], radius_um)
    return dict(counts, tissue=img['tissue'])


def random_sets(n_sets=12, per_set=25):
    rng = np.random.default_rng(25)
    return [[random_typed_image(rng) for _ in range(per_set)] for _ in range(n_sets)]


SETS = random_sets()


# ---------------------------------------------------------------------- tests
def test_random_sets_cover_the_edge_cases():
    images = [img for s in SETS for img in s]
    refs = [as_reference_input(img) for img in images]
    assert sum(r['true'].max() == 0 for r in refs) > 20                 # no true nucleus
    assert sum(r['pred'].max() == 0 < r['true'].max() for r in refs) > 5  # no prediction
    assert sum(img['ignore'].any() for img in images) > 50
    assert sum((img['pred_types'][np.unique(img['pred'])[1:] - 1] == 0).any()
               for img in images) > 20                                   # background-typed
    absent = [len(set(np.unique(r['true_class'])) - {0}) < NUM_CLASSES - 1 for r in refs]
    assert all(absent)  # every image lacks a class: NaN classes in every image


def test_per_image_pq_equals_pannuke_get_fast_pq():
    for images in SETS:
        refs = [as_reference_input(img) for img in images]
        _, _, mpq_all, bpq_all = pannuke_run(refs)
        for img, class_pq, (pq_bin,) in zip(images, mpq_all, bpq_all):
            counts = ours(img)
            np.testing.assert_allclose(counts['pq'], pq_bin, rtol=1e-12)
            np.testing.assert_allclose(counts['class_pq'][1:], class_pq, rtol=1e-12)


def test_set_scores_equal_pannuke_conic_and_hovernet():
    for images in SETS:
        refs = [as_reference_input(img) for img in images]
        scores = typed_scores([ours(img) for img in images], NUM_CLASSES)
        mpq, bpq, _, _ = pannuke_run(refs)
        mpq_plus, class_pq = conic_mpq(refs)
        f1_d, acc_type, f1 = hovernet_type_stat(refs, range(1, NUM_CLASSES))
        np.testing.assert_allclose(
            [scores[k] for k in ('mPQ', 'bPQ', 'mPQ+', 'F1d', 'acc_type')],
            [mpq, bpq, mpq_plus, f1_d, acc_type], rtol=1e-12)
        np.testing.assert_allclose(scores['PQ'][1:], class_pq, rtol=1e-12)
        np.testing.assert_allclose(scores['F1'][1:], f1, rtol=1e-12)
        assert np.isnan(scores['PQ'][0]) and np.isnan(scores['F1'][0])


def test_the_radius_is_in_micrometres():
    """Predictions 10 px from their nuclei pair at 0.25 um/px (radius 12 px)
    but not at 0.5 um/px (6 px); the IoU-based scores do not change."""
    true = np.zeros((40, 40), np.int64)
    true[2:22, 2:22] = 1
    pred = np.zeros_like(true)
    pred[12:32, 2:22] = 1  # IoU 1/3: no PQ match
    fine = typed_image_counts(true, [1], pred, [1], 2, mpp=0.25)
    coarse = typed_image_counts(true, [1], pred, [1], 2, mpp=0.5)
    assert fine['paired'][1, 1] == 1 and fine['unpaired_true'].sum() == 0
    assert coarse['paired'].sum() == 0 and coarse['unpaired_true'][1] == 1
    assert coarse['unpaired_pred'][1] == 1
    assert fine['tp'] == coarse['tp'] == 0 and fine['fp'] == coarse['fp'] == 1
    # the same nucleus resampled to 0.5 um/px (10 px apart -> 5 px) pairs again
    half = typed_image_counts(true[::2, ::2], [1], pred[::2, ::2], [1], 2, mpp=0.5)
    assert half['paired'][1, 1] == 1


def hand_built():
    """Three true nuclei (types 1, 1, 2) in one image and one in another:
    nucleus 1 found with its type (IoU 0.8), nucleus 2 found as type 2
    (IoU 1.0), nucleus 3 missed; a false type-3 nucleus; a prediction typed
    background (dropped). Image 2 (another tissue): one type-2 nucleus found
    exactly."""
    true = np.zeros((20, 40), np.int64)
    true[0:10, 0:10] = 1      # type 1, area 100
    true[0:10, 20:25] = 2     # type 1, area 50
    true[12:16, 30:34] = 3    # type 2, missed
    pred = np.zeros_like(true)
    pred[0:8, 0:10] = 7       # IoU 80/100 with nucleus 1, type 1
    pred[0:10, 20:25] = 8     # IoU 1 with nucleus 2, typed 2
    pred[15:19, 0:4] = 9      # false, type 3
    pred[12:16, 12:16] = 4    # typed background: dropped
    types_pred = np.zeros(9, np.int64)
    types_pred[[6, 7, 8]] = [1, 2, 3]
    first = typed_image_counts(true, [1, 1, 2], pred, types_pred, 4)
    block = np.ones((10, 5), np.int64)
    second = typed_image_counts(block, [2], block, [2], 4)
    return first, dict(second, tissue='other')


def test_hand_built_counts_and_scores():
    first, second = hand_built()
    assert (first['tp'], first['fp'], first['fn'], first['n_pred']) == (2, 1, 1, 3)
    assert first['iou_sum'] == pytest.approx(1.8)
    np.testing.assert_array_equal(first['class_tp'], [0, 1, 0, 0])
    np.testing.assert_array_equal(first['class_fp'], [0, 0, 1, 1])
    np.testing.assert_array_equal(first['class_fn'], [0, 1, 1, 0])
    # PanNuke per image: binary DQ = 2 / 3, SQ = 0.9; type 1: DQ 2 / 3, SQ 0.8;
    # type 2: no match (PQ 0); type 3: no true nucleus, NaN (its FP not counted).
    eps = 1e-6
    assert first['pq'] == pytest.approx(2 / 3 * 1.8 / (2 + eps), rel=1e-12)
    np.testing.assert_allclose(first['class_pq'], [np.nan, 2 / 3 * 0.8 / (1 + eps), 0, np.nan])
    # Centroid pairing: 1 -> 7 (type 1, 1), 2 -> 8 (type 1 as 2); 3 and 9 unpaired
    # (centroids 28 px apart in x: beyond 12 px).
    np.testing.assert_array_equal(first['paired'][1], [0, 1, 1, 0])
    np.testing.assert_array_equal(first['unpaired_true'], [0, 0, 1, 0])
    np.testing.assert_array_equal(first['unpaired_pred'], [0, 0, 0, 1])

    scores = typed_scores([first, second], 4)
    # PanNuke: image mPQ = mean(0.8 * 2 / 3, 0) and 1 (image 2: type 2 only); two tissues.
    assert scores['mPQ'] == pytest.approx((0.8 / 3 + 1) / 2, rel=1e-5)
    assert scores['bPQ'] == pytest.approx((0.6 + 1) / 2, rel=1e-5)
    # CoNIC over both images: type 1 TP 1 FN 1 (DQ 2 / 3, SQ 0.8), type 2 TP 1 FP 1
    # FN 1 (DQ 0.5, SQ 1), type 3 FP 1 (0): mPQ+ = (1.6 / 3 + 0.5 + 0) / 3.
    np.testing.assert_allclose(scores['PQ'][1:], [1.6 / 3, 0.5, 0], rtol=1e-5)
    assert scores['mPQ+'] == pytest.approx((1.6 / 3 + 0.5) / 3, rel=1e-5)
    # HoVer-Net: 3 pairs, 1 unpaired each side: F1d = 6 / 8; types right in 2 of 3.
    assert scores['F1d'] == pytest.approx(0.75) and scores['acc_type'] == pytest.approx(2 / 3)
    # type 1: tp 1, fn_dt 1 (nucleus 2 called 2): 2 / (2 + 2); type 2: tp 1, fp_dt 1,
    # fn_d 1: 2 / (2 + 2 + 1); type 3: fp_d 1 only: 0.
    np.testing.assert_allclose(scores['F1'][1:], [0.5, 0.4, 0])
    flat = typed_aggregate([first, second], ['background', 'neo', 'inflam', 'conn'])
    assert flat['mPQ'] == 63.33 and flat['PQ_inflam'] == 50 and flat['F1_neo'] == 50
    assert set(flat) == {'bPQ', 'mPQ', 'mPQ+', 'F1d', 'acc_type', 'PQ_neo', 'PQ_inflam',
                         'PQ_conn', 'F1_neo', 'F1_inflam', 'F1_conn'}


def test_empty_images_and_sets():
    empty = np.zeros((8, 8), np.int64)
    counts = typed_image_counts(empty, [], empty, [], 3)
    assert np.isnan(counts['pq']) and np.isnan(counts['class_pq']).all()
    assert counts['n_true'] == counts['n_pred'] == 0 and counts['paired'].sum() == 0
    only_pred = empty.copy()
    only_pred[2:5, 2:5] = 3
    counts = typed_image_counts(empty, [], only_pred, [0, 0, 2], 3)
    assert np.isnan(counts['pq']) and counts['fp'] == 1 and counts['unpaired_pred'][2] == 1
    scores = typed_scores([counts], 3)  # no true nucleus anywhere
    assert np.isnan(scores['mPQ']) and np.isnan(scores['bPQ']) and scores['F1d'] == 0
    assert scores['mPQ+'] == 0  # CoNIC: classes with nothing matched count as 0
    assert np.isnan(typed_scores([], 3)['mPQ'])


def test_ignore_rule_and_background_typed_predictions():
    true = np.zeros((4, 12), np.int64)
    true[:, 0:4], true[:, 6:10] = 1, 2
    ignore = np.zeros_like(true, bool)
    ignore[:, 0:3] = True          # 75 % of true 1: left out
    pred = true.copy()
    pred[:, 10:12] = 3             # typed background: dropped
    counts = typed_image_counts(true, [2, 1], pred, [2, 1, 0], 3, ignore)
    assert (counts['n_true'], counts['n_pred'], counts['tp']) == (1, 1, 1)
    np.testing.assert_array_equal(counts['class_tp'], [0, 1, 0])
    # without the ignore mask nucleus 1 is scored, and a type outside the set is refused
    assert typed_image_counts(true, [2, 1], pred, [2, 1, 0], 3)['class_tp'][2] == 1
    with pytest.raises(ValueError, match='outside'):
        typed_image_counts(true, [5, 1], pred, [2, 1, 0], 3)
    with pytest.raises(ValueError, match='types for instance ids'):
        typed_image_counts(true, [1], pred, [2, 1, 0], 3)
    # an out-of-set type on an instance the ignore rule removes is fine (MoNuSAC Ambiguous)
    assert typed_image_counts(true, [255, 1], pred, [2, 1, 0], 3, ignore)['tp'] == 1


def test_types_from_probabilities_sum_leaves_into_nodes():
    """Leaves (bg, epi_normal, epi_tumour, immune); nodes of a coarse set
    (bg, epithelial, immune). Instance 1's most likely leaf is immune (0.4)
    but its epithelial leaves together (0.5) win."""
    rng = np.random.default_rng(3)
    ids = np.zeros((6, 6), np.int64)
    ids[0:3, 0:3], ids[3:6, 3:6], ids[0:2, 4:6] = 1, 4, 2
    probs = rng.dirichlet(np.ones(4), size=(6, 6)).transpose(2, 0, 1)
    probs[:, 0:3, 0:3] = np.array([0.1, 0.25, 0.25, 0.4])[:, None, None]
    matrix = np.array([[1, 0, 0, 0], [0, 1, 1, 0], [0, 0, 0, 1]])
    types, node_probs = instance_types_from_probabilities(ids, probs, matrix)
    assert node_probs.shape == (4, 3) and types[0] == 1
    for k in (1, 2, 4):  # per instance by mask
        mean = probs[:, ids == k].mean(axis=1)
        np.testing.assert_allclose(node_probs[k - 1], matrix @ mean)
        assert types[k - 1] == np.argmax(matrix @ mean)
    assert (node_probs[2] == 0).all() and types[2] == 0  # id 3 absent


def test_types_from_a_type_map_by_majority():
    ids = np.array([[1, 1, 1, 2, 2], [1, 1, 0, 2, 2]])
    type_map = np.array([[2, 2, 255, 0, 0], [1, 0, 3, 0, 3]])
    np.testing.assert_array_equal(instance_types_from_map(ids, type_map, 4), [2, 3])
