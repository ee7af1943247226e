"""Nucleus instance scores, ours against the per-pair code of the papers.

Binary case: one 1024 x 1024 tile with ~1,000 nuclei: ours (one
``np.bincount`` table of all (true, predicted) intersections) against
HoVer-Net's ``get_fast_pq``/``get_fast_aji``/``get_fast_aji_plus`` (one
full-image mask comparison per overlapping pair); identical PQ, DQ, SQ, AJI
and AJI+ asserted.

Typed case: 20 images of 256 x 256 with ~100 nuclei of 5 types: ours
(:mod:`crossspec_mmseg.evaluation.typed_instance_scores`) against PanNuke's
run.py (bPQ, mPQ), CoNIC's compute_stats.py (mPQ+) and HoVer-Net's
``run_nuclei_type_stat`` (F1d, per-type F1) as re-written in
tests/evaluation/test_typed_instance_scores.py; identical values asserted.

    python benchmarks/instance_metrics.py [--case both|binary|typed] [--size 1024]
        [--nuclei 1000] [--repeat 5] [--images 20] [--image-size 256] [--image-nuclei 100]
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import time

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

from crossspec_mmseg.evaluation import image_counts, typed_image_counts, typed_scores
from crossspec_mmseg.evaluation.instance_scores import scores_from_counts

#: The typed references live in the test that checks them against ours.
REFERENCES = os.path.join(os.path.dirname(__file__), '..', 'tests', 'evaluation',
                          'test_typed_instance_scores.py')
NUM_TYPES = 5


def synthetic_tile(size: int, nuclei: int, seed: int = 0):
    """True nuclei (ellipses, some touching) and a prediction that shifts,
    shrinks, grows, splits, merges, misses and invents some."""
    rng = np.random.default_rng(seed)
    true = np.zeros((size, size), np.int32)
    for k in range(1, nuclei + 1):
        centre = tuple(int(v) for v in rng.integers(8, size - 8, 2))
        axes = tuple(int(v) for v in rng.integers(5, 13, 2))
        cv2.ellipse(true, centre, axes, float(rng.uniform(0, 180)), 0, 360, k, -1)
    pred = np.zeros_like(true)
    kernel = np.ones((3, 3), np.uint8)
    for k in range(1, nuclei + 1):
        mask = (true == k).astype(np.uint8)
        r = rng.random()
        if r < 0.05:
            continue  # missed
        mask = cv2.erode(mask, kernel) if r < 0.3 else cv2.dilate(mask, kernel) if r < 0.5 \
            else mask
        mask = np.roll(mask, tuple(rng.integers(-2, 3, 2)), axis=(0, 1)).astype(bool)
        pred[mask & (pred == 0)] = k
        if rng.random() < 0.05 and mask.any():  # split
            ys = np.nonzero(mask)[0]
            pred[mask & (np.arange(size)[:, None] > ys.mean())] = nuclei + k
    for k in rng.choice(np.arange(1, nuclei + 1), nuclei // 40, replace=False):
        pred[pred == k + 1] = k  # merge neighbours by id
    for k in range(nuclei // 20):  # false positives
        centre = tuple(int(v) for v in rng.integers(8, size - 8, 2))
        cv2.circle(pred, centre, 6, 3 * nuclei + k, -1)
    return true, pred


def per_pair_reference(true: np.ndarray, pred: np.ndarray) -> dict:
    """PQ, AJI and AJI+ as HoVer-Net's stats_utils computes them: the pairwise
    intersection/union tables from one mask comparison per overlapping pair."""
    true_ids = [t for t in np.unique(true) if t]
    pred_ids = [p for p in np.unique(pred) if p]
    pred_index = {p: j for j, p in enumerate(pred_ids)}
    inter = np.zeros((len(true_ids), len(pred_ids)))
    union = np.zeros_like(inter)
    for i, t in enumerate(true_ids):
        t_mask = true == t
        for p in np.unique(pred[t_mask]):
            if p == 0:
                continue
            p_mask = pred == p
            inter[i, pred_index[p]] = (t_mask & p_mask).sum()
            union[i, pred_index[p]] = (t_mask | p_mask).sum()
    area_true = np.array([(true == t).sum() for t in true_ids])
    area_pred = np.array([(pred == p).sum() for p in pred_ids])
    iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    # get_fast_pq: pairs above 0.5 are unique.
    tp = int((iou > 0.5).sum())
    fp, fn = len(pred_ids) - tp, len(true_ids) - tp
    dq = tp / (tp + 0.5 * fp + 0.5 * fn)
    sq = iou[iou > 0.5].sum() / tp

    def aji(rows, cols):
        u = union[rows, cols].sum() + np.delete(area_true, rows).sum() \
            + np.delete(area_pred, np.unique(cols)).sum()
        return inter[rows, cols].sum() / u

    rows = np.flatnonzero(iou.max(axis=1) > 0)  # get_fast_aji
    a = aji(rows, iou[rows].argmax(axis=1))
    rows, cols = linear_sum_assignment(-iou)  # get_fast_aji_plus
    keep = iou[rows, cols] > 0
    return dict(PQ=dq * sq, DQ=dq, SQ=sq, AJI=a, **{'AJI+': aji(rows[keep], cols[keep])})


def median_time(fn, repeat: int):
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), out


def load_references():
    spec = importlib.util.spec_from_file_location('typed_references', REFERENCES)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def typed_images(count: int, size: int, nuclei: int):
    """:func:`synthetic_tile` maps with types 1..5: a prediction keeps its
    nucleus's type 80 % of the time, otherwise any type 0..5 (0: background,
    dropped); tissues from the test's list; 0.25 um/px."""
    rng = np.random.default_rng(1)
    images = []
    for seed in range(count):
        true, pred = synthetic_tile(size, nuclei, seed)
        true_types = rng.integers(1, NUM_TYPES + 1, int(true.max()))
        pred_types = rng.integers(0, NUM_TYPES + 1, int(pred.max()))
        own = (np.arange(1, len(pred_types) + 1) <= len(true_types)) & (
            rng.random(len(pred_types)) < 0.8)
        pred_types[own] = true_types[np.flatnonzero(own)]
        images.append(dict(true=true, true_types=true_types, pred=pred, pred_types=pred_types,
                           ignore=np.zeros_like(true, bool), mpp=0.25,
                           tissue=('Breast', 'Colon', 'Kidney')[seed % 3]))
    return images


def typed_case(args) -> dict:
    ref = load_references()
    images = typed_images(args.images, args.image_size, args.image_nuclei)
    num_classes = NUM_TYPES + 1

    def ours():
        counts = [dict(typed_image_counts(img['true'], img['true_types'], img['pred'],
                                          img['pred_types'], num_classes, None, img['mpp']),
                       tissue=img['tissue']) for img in images]
        return typed_scores(counts, num_classes), counts

    def reference():
        mpq, bpq, _, _ = ref.pannuke_run(inputs)
        mpq_plus, class_pq = ref.conic_mpq(inputs, NUM_TYPES)
        f1_d, acc_type, f1 = ref.hovernet_type_stat(inputs, range(1, num_classes))
        return dict(mPQ=mpq, bPQ=bpq, **{'mPQ+': mpq_plus}, F1d=f1_d, acc_type=acc_type,
                    PQ=class_pq, F1=f1)

    inputs = [ref.as_reference_input(img, num_classes=num_classes) for img in images]
    ours_s, (scores, counts) = median_time(ours, args.repeat)
    ref_s, expected = median_time(reference, max(1, args.repeat // 2))
    for key, value in expected.items():
        got = scores[key][1:] if key in ('PQ', 'F1') else scores[key]
        np.testing.assert_allclose(got, value, rtol=1e-12, err_msg=key)
    return dict(images=len(images), size=args.image_size,
                true_nuclei=int(sum(c['n_true'] for c in counts)),
                predicted=int(sum(c['n_pred'] for c in counts)),
                scores={k: round(float(scores[k]), 4) for k in ('bPQ', 'mPQ', 'mPQ+', 'F1d')},
                per_pair_reference_s=round(ref_s, 3), ours_s=round(ours_s, 4),
                speedup=round(ref_s / ours_s, 1))


def binary_case(args) -> dict:
    true, pred = synthetic_tile(args.size, args.nuclei)
    ours_s, counts = median_time(lambda: image_counts(true, pred), args.repeat)
    ours = scores_from_counts(counts)
    ref_s, ref = median_time(lambda: per_pair_reference(true, pred), max(1, args.repeat // 2))
    for key, value in ref.items():
        assert abs(ours[key] - value) < 1e-12, (key, ours[key], value)
    return dict(tile=args.size, true_nuclei=counts['n_true'], predicted=counts['n_pred'],
                scores={k: round(v, 4) for k, v in ours.items()},
                per_pair_reference_s=round(ref_s, 3), ours_s=round(ours_s, 4),
                speedup=round(ref_s / ours_s, 1))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--case', choices=('both', 'binary', 'typed'), default='both')
    parser.add_argument('--size', type=int, default=1024)
    parser.add_argument('--nuclei', type=int, default=1000)
    parser.add_argument('--repeat', type=int, default=5)
    parser.add_argument('--images', type=int, default=20)
    parser.add_argument('--image-size', type=int, default=256)
    parser.add_argument('--image-nuclei', type=int, default=100)
    args = parser.parse_args()
    result = {}
    if args.case in ('both', 'binary'):
        result['binary'] = binary_case(args)
    if args.case in ('both', 'typed'):
        result['typed'] = typed_case(args)
    print(json.dumps(result, indent=1))


if __name__ == '__main__':
    main()
