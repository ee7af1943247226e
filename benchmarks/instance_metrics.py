"""Nucleus instance scores of one 1024 x 1024 tile with ~1,000 nuclei: ours
(one ``np.bincount`` table of all (true, predicted) intersections) against the
per-pair reference as research code computes it (HoVer-Net's
``get_fast_pq``/``get_fast_aji``/``get_fast_aji_plus``: one full-image mask
comparison per overlapping pair). Both must give identical PQ, DQ, SQ, AJI
and AJI+.

    python benchmarks/instance_metrics.py [--size 1024] [--nuclei 1000] [--repeat 5]
"""
from __future__ import annotations

import argparse
import json
import time

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

from crossspec_mmseg.evaluation import image_counts
from crossspec_mmseg.evaluation.instance_scores import scores_from_counts


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
        if rng.random() < 0.05:  # split
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


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--size', type=int, default=1024)
    parser.add_argument('--nuclei', type=int, default=1000)
    parser.add_argument('--repeat', type=int, default=5)
    args = parser.parse_args()
    true, pred = synthetic_tile(args.size, args.nuclei)
    ours_s, counts = median_time(lambda: image_counts(true, pred), args.repeat)
    ours = scores_from_counts(counts)
    ref_s, ref = median_time(lambda: per_pair_reference(true, pred), max(1, args.repeat // 2))
    for key, value in ref.items():
        assert abs(ours[key] - value) < 1e-12, (key, ours[key], value)
    print(json.dumps(dict(
        tile=args.size, true_nuclei=counts['n_true'], predicted=counts['n_pred'],
        scores={k: round(v, 4) for k, v in ours.items()},
        per_pair_reference_s=round(ref_s, 3), ours_s=round(ours_s, 4),
        speedup=round(ref_s / ours_s, 1)), indent=1))


if __name__ == '__main__':
    main()
