"""Nuclei post-processing of both model routes (issue 26): its share of
inference on a nuclei-dense 2048 x 2048 tile, and its speed against named
peers on the same tile.

The tile (synthetic, drawn by ``--seed``): ``--nuclei`` ellipses of five
types (size and shape by type), half of them in clusters, each allowed to
overlap earlier ones by up to 15 % of its area (the overlap stays with the
earlier nucleus), so many touch. From its true instances and types:

- route a (``TypedContourWatershed``): a typed contour head's softmax,
  the typed contour target (background, 13 type leaves, boundary; width 1)
  with noise on every logit, as ``tests/structures/test_typed_instances.py``
  makes it;
- MONAI's HoVer-Net post-processing (``HoVerNetInstanceMapPostProcessing``
  + ``HoVerNetNuclearTypePostProcessing``, defaults, ``min_object_size=10``
  as our ``min_size=10``) fed the equivalent inputs: the NP branch as the
  log of (background, nucleus) probabilities of the same softmax (nucleus =
  1 - background, the pixels ours grows over), the HV maps of the true
  instances (HoVer-Net's targets) and the NC branch as the log of the 14
  leaf probabilities;
- route b (``star_instances``: stardist's sparse NMS on the candidates
  picked from the maps, then ``polygons_to_label``): the object probability
  ``edt_prob`` and 32 ``star_dist`` rays of the true instances, with noise;
- stardist's own dense path on the same maps: ``stardist.nms.
  non_maximum_suppression`` on the full maps (at the config's candidate
  grid 2, and at grid 1) + ``polygons_to_label``.

Share of inference: the route's config model (``contour_deeplabv3plus_pannuke``,
DeepLabV3+ R-50-D8; ``stardist_r50_pannuke``, ResNet-50 + StarDist head)
built from scratch (no weights; SyncBN as BN on the CPU), its forward
(``model.inference``) on the tile, and its ``postprocess_result`` (what
``tools/test.py`` runs after the forward: softmax/sigmoid, class map,
instances, per-nucleus types) on the synthetic maps of that tile.
``--forward-side S`` times the forward on an S x S tile and scales it by
pixels (said in the output).

Threads: torch runs ``--torch-threads`` (default: every core the process
may use). stardist's compiled NMS (route b and its dense peer alike) opens
an OpenMP parallel region for every polygon it keeps; with GNU OpenMP's
default active waiting, on a machine whose cores other jobs hold, those
thousands of fork/joins (and torch's own spinning OpenMP threads) make its
time swing by 10x and more. Run once as is and once with
``OMP_WAIT_POLICY=passive`` (threads sleep instead of spinning).

Each output is checked against the true nuclei (count, matches at IoU >
0.5, their mean IoU, PQ; for route a the type of the matched nuclei) and
against ours, so the peers find the same nuclei. Ours and its peer run in
turn, round after round (a busy machine then slows both alike): medians of
``--repeat`` rounds (``--peer-repeat`` with MONAI and at candidate stride 1;
``--forward-repeat`` rounds of forward + ``postprocess_result``), and the
ratio of the medians beside the median and range of the per-round ratios.

    pip install monai   # benchmark-only dependency (its rows skipped without it)
    [OMP_WAIT_POLICY=passive] python benchmarks/nuclei_postprocessing.py [--side 2048]
        [--nuclei 3500] [--seed 0] [--repeat 5] [--peer-repeat 3] [--forward-repeat 3]
        [--forward-side 2048] [--strides 2 1] [--routes a b] [--torch-threads N]
        [--skip-forward]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import cv2
import numpy as np
import torch
from scipy import ndimage

import crossspec_mmseg  # noqa: F401
from crossspec_mmseg.converters.nuinsseg import contour_target
from crossspec_mmseg.evaluation import image_counts
from crossspec_mmseg.evaluation.instance_scores import scores_from_counts
from crossspec_mmseg.structures import LabelTree, TypedContourWatershed
from crossspec_mmseg.structures.instances import relabel

CONFIGS = {route: os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'configs',
                              'nuclei', name)
           for route, name in (('a', 'contour_deeplabv3plus_pannuke.py'),
                               ('b', 'stardist_r50_pannuke.py'))}
LEAVES = LabelTree.build('nucleus_contour').leaves  # background, 13 types, boundary
BOUNDARY = len(LEAVES) - 1
#: type: (share of nuclei, semi-axes ranges (long, short) in px at 0.5 um/px)
TYPES = {'neoplastic_epithelial': (0.35, (7, 11), (5, 8)),
         'lymphocyte': (0.25, (4, 6), (4, 5)),
         'fibroblast': (0.15, (9, 13), (3, 4)),
         'macrophage': (0.15, (6, 9), (5, 7)),
         'endothelial': (0.10, (8, 11), (3, 4))}
N_RAYS = 32
STAR_CFG = dict(prob_thresh=0.5, nms_thresh=0.4, border=2)  # the config's test_cfg


# -- the tile -------------------------------------------------------------------------------

def synthetic_tile(side: int, nuclei: int, seed: int):
    """True instances (H x W int32, ids 1..n) and each nucleus's leaf (index
    into the contour tree's leaves, equal to the nucleus tree's)."""
    rng = np.random.default_rng(seed)
    names = list(TYPES)
    shares = np.array([TYPES[n][0] for n in names])
    ids = np.zeros((side, side), np.int32)
    leaves = []
    clusters = rng.uniform(40, side - 40, (max(1, nuclei // 25), 2))
    tries = 0
    while len(leaves) < nuclei and tries < 30 * nuclei:
        tries += 1
        t = rng.choice(len(names), p=shares)
        _, long_axis, short_axis = TYPES[names[t]]
        a, b = rng.uniform(*long_axis), rng.uniform(*short_axis)
        if rng.random() < 0.5:  # in a cluster
            centre = clusters[rng.integers(len(clusters))] + rng.normal(0, 35, 2)
        else:
            centre = rng.uniform(0, side, 2)
        r = int(np.ceil(max(a, b))) + 1
        cy, cx = int(round(centre[0])), int(round(centre[1]))
        if not (r <= cy < side - r and r <= cx < side - r):
            continue
        patch = np.zeros((2 * r + 1, 2 * r + 1), np.uint8)
        cv2.ellipse(patch, (r, r), (int(round(a)), int(round(b))), float(rng.uniform(0, 180)),
                    0, 360, 1, -1)
        window = ids[cy - r:cy + r + 1, cx - r:cx + r + 1]
        inside = patch.astype(bool)
        free = inside & (window == 0)
        if free.sum() < 0.85 * inside.sum():
            continue
        # keep it in one piece: the free part must be one 4-connected component
        if cv2.connectedComponents(free.astype(np.uint8), connectivity=4)[0] != 2:
            continue
        leaves.append(LEAVES.index(names[t]))
        window[free] = len(leaves)
    return ids, np.array(leaves)


def contour_probabilities(ids, leaves, rng, noise=0.8, sharpness=5.0) -> np.ndarray:
    """A typed contour head's softmax (15 x H x W float32): the typed contour
    target's class, noise on every logit."""
    target = np.zeros(ids.shape, np.int64)
    target[ids > 0] = leaves[ids[ids > 0] - 1]
    target[contour_target(ids, 1) == 2] = BOUNDARY
    logits = torch.from_numpy(rng.standard_normal((len(LEAVES),) + ids.shape,
                                                  dtype=np.float32)).mul_(noise)
    logits.scatter_add_(0, torch.from_numpy(target)[None],
                        torch.full((1,) + ids.shape, sharpness))
    return logits.softmax(0).numpy()


def hover_maps(ids: np.ndarray) -> np.ndarray:
    """HoVer-Net's HV targets (2 x H x W: horizontal, vertical): each pixel's
    offset from its nucleus's centre of mass, negatives and positives scaled
    to [-1, 0] and [0, 1] per nucleus."""
    n = int(ids.max())
    index = np.arange(1, n + 1)
    rows, cols = np.indices(ids.shape, dtype=np.float32)
    out = np.zeros((2,) + ids.shape, np.float32)
    fg = ids > 0
    for channel, coord in enumerate((cols, rows)):
        centre = np.zeros(n + 1, np.float32)
        centre[1:] = ndimage.mean(coord, ids, index)
        offset = np.where(fg, coord - centre[ids], 0).astype(np.float32)
        low, high = np.zeros(n + 1, np.float32), np.zeros(n + 1, np.float32)
        low[1:] = ndimage.minimum(offset, ids, index)
        high[1:] = ndimage.maximum(offset, ids, index)
        scale = np.where(offset < 0, -low[ids], high[ids])
        out[channel] = np.divide(offset, scale, out=np.zeros_like(offset), where=scale > 0)
    return out


def star_maps(ids, rng, prob_noise=0.05, dist_noise=0.5):
    """Object probability (H x W) and 32 ray lengths (32 x H x W) of a StarDist
    head: stardist's targets of the true instances plus noise."""
    from stardist import edt_prob, star_dist
    prob = edt_prob(ids).astype(np.float32)
    prob += prob_noise * rng.standard_normal(prob.shape, dtype=np.float32)
    np.clip(prob, 0, 1, out=prob)
    dist = np.ascontiguousarray(star_dist(ids, N_RAYS).transpose(2, 0, 1), np.float32)
    dist += dist_noise * rng.standard_normal(dist.shape, dtype=np.float32)
    np.clip(dist, 0, None, out=dist)
    return prob, dist


def leaf_logits(ids, leaves, rng, noise=0.8, sharpness=5.0) -> np.ndarray:
    """A StarDist head's leaf logits (14 x H x W): each pixel's true leaf, noise."""
    target = np.zeros(ids.shape, np.int64)
    target[ids > 0] = leaves[ids[ids > 0] - 1]
    logits = noise * rng.standard_normal((BOUNDARY,) + ids.shape, dtype=np.float32)
    np.put_along_axis(logits, target[None],
                      np.take_along_axis(logits, target[None], 0) + sharpness, 0)
    return logits


def touching_nuclei(ids: np.ndarray) -> int:
    """Nuclei with a pixel 4-adjacent to a pixel of another nucleus."""
    found = []
    for a, b in ((ids[1:], ids[:-1]), (ids[:, 1:], ids[:, :-1])):
        both = (a > 0) & (b > 0) & (a != b)
        found += [a[both], b[both]]
    return len(np.unique(np.concatenate(found)))


# -- checks ---------------------------------------------------------------------------------

def agreement(true: np.ndarray, pred: np.ndarray) -> dict:
    """Nuclei found, matches at IoU > 0.5, their mean IoU and PQ."""
    c = image_counts(relabel(true)[0], relabel(pred)[0])
    s = scores_from_counts(c)
    return dict(nuclei=c['n_pred'], matched=c['tp'], mean_matched_iou=round(s['SQ'], 4),
                PQ=round(s['PQ'], 4))


def type_accuracy(true, true_leaves, pred, pred_leaves) -> float:
    """Share of matched nuclei (IoU > 0.5) whose predicted type is the true one
    (``pred_leaves[k - 1]`` for predicted id ``k``)."""
    pred, _ = relabel(pred)  # ours and MONAI's ids are consecutive already
    pairs = true.astype(np.int64) * (int(pred.max()) + 1) + pred
    table = np.bincount(pairs.ravel(), minlength=(int(true.max()) + 1) * (int(pred.max()) + 1))
    table = table.reshape(int(true.max()) + 1, -1)
    area_t, area_p = table.sum(1), table.sum(0)
    t, p = np.nonzero(table[1:, 1:])
    inter = table[t + 1, p + 1]
    iou = inter / (area_t[t + 1] + area_p[p + 1] - inter)
    keep = iou > 0.5
    return round(float((true_leaves[t[keep]] == pred_leaves[p[keep]]).mean()), 4)


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def alternate(fns: dict, repeat: int) -> tuple:
    """Run the functions in turn, ``repeat`` rounds (a busy, shared machine then
    slows each about alike): per name, its times and its last output."""
    times, outs = {k: [] for k in fns}, {}
    for _ in range(max(1, repeat)):
        for name, fn in fns.items():
            seconds, outs[name] = timed(fn)
            times[name].append(seconds)
    return times, outs


def med(values) -> float:
    return round(float(np.median(values)), 3)


def ratio(num, den) -> dict:
    """Ratio of the medians, and the median and range of the per-round ratios."""
    paired = [a / b for a, b in zip(num, den)]
    return dict(of_medians=round(float(np.median(num) / np.median(den)), 2),
                paired_median=round(float(np.median(paired)), 2),
                paired_range=[round(min(paired), 2), round(max(paired), 2)])


# -- the models -----------------------------------------------------------------------------

def build_model(route: str):
    from mmengine.config import Config, ConfigDict
    from mmseg.registry import MODELS
    from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=True)

    def no_sync(obj):  # SyncBN needs a process group; BN computes the same in eval
        if isinstance(obj, dict):
            return {k: 'BN' if k == 'type' and v == 'SyncBN' else no_sync(v)
                    for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return type(obj)(no_sync(v) for v in obj)
        return obj

    model = no_sync(Config.fromfile(CONFIGS[route]).model.to_dict())
    model['pretrained'] = None  # from scratch: no weights read
    model['backbone'].pop('init_cfg', None)
    return MODELS.build(ConfigDict(model)).eval()


def metas(side):
    return [dict(ori_shape=(side, side), img_shape=(side, side), pad_shape=(side, side),
                 padding_size=[0, 0, 0, 0])]


def segmentor_postprocess(model, seg_logits: torch.Tensor, side: int):
    """``model.postprocess_result`` on one tile's maps (what follows the forward)."""
    from mmseg.structures import SegDataSample
    samples = [SegDataSample(metainfo=metas(side)[0])]
    with torch.no_grad():
        return model.postprocess_result(seg_logits, samples)[0]


def share_of_inference(model, seg_logits, side: int, forward_side: int, repeat: int):
    """The forward (``model.inference`` on a normalised ``forward_side`` tile,
    scaled by pixels to ``side``) and ``postprocess_result`` on the tile's
    maps, alternating; the post-processing's share of their sum per round."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, 3, forward_side, forward_side, generator=g)
    scale = (side / forward_side) ** 2
    with torch.no_grad():
        model.inference(x[..., :256, :256], metas(256))  # warm-up

        def forward():
            with torch.no_grad():
                return model.inference(x, metas(forward_side)).shape

        times, outs = alternate(dict(
            forward=forward, post=lambda: segmentor_postprocess(model, seg_logits, side)),
            repeat)
    fwd = [t * scale for t in times['forward']]
    shares = [p / (f + p) for f, p in zip(fwd, times['post'])]
    res = dict(forward_s=med(fwd), forward_measured_side=forward_side,
               forward_scaled_by=round(scale, 3), forward_runs_s=[round(t, 2) for t in fwd],
               postprocess_result_s=med(times['post']),
               postprocess_result_runs_s=[round(t, 2) for t in times['post']],
               share=round(float(np.median(shares)), 4),
               share_range=[round(min(shares), 4), round(max(shares), 4)])
    return res, outs['post']


# -- route a --------------------------------------------------------------------------------

class MonaiHoVerNet:
    """MONAI's HoVer-Net post-processing (defaults, ``min_object_size=10``) on
    the NP logits, HV maps and NC logits: the instance map alone (its five
    steps up to the watershed), then the two transforms a user calls
    (instances with bounding boxes, centroids, contours; then types)."""

    def __init__(self, np_logits, hv, nc_logits):
        from monai.apps.pathology.transforms.post.array import (
            HoVerNetInstanceMapPostProcessing,
            HoVerNetNuclearTypePostProcessing,
        )
        self.inputs = np_logits, hv, nc_logits
        self.inst = HoVerNetInstanceMapPostProcessing(min_object_size=10)
        self.type = HoVerNetNuclearTypePostProcessing(return_type_map=True)

    def instance_map(self):
        np_logits, hv, _ = self.inputs
        p = self.inst
        mask = p.generate_watershed_mask(np_logits)
        border = p.generate_instance_border(mask, hv)
        return p.watershed(p.generate_distance_map(mask, border), mask,
                           p.generate_watershed_markers(mask, border))

    def instances(self):
        np_logits, hv, _ = self.inputs
        return self.inst(np_logits, hv)

    def types(self, info, inst_map):
        return self.type(self.inputs[2], info, inst_map)


def route_a(args, ids, leaves, rng):
    """Ours against MONAI; returns the results and the head's logits of the tile."""
    probs = contour_probabilities(ids, leaves, rng)
    post = TypedContourWatershed(min_size=10)
    fns = dict(ours=lambda: post(probs))
    try:
        import monai  # noqa: F401
    except ImportError:
        print('monai not installed: the HoVer-Net peer is skipped (pip install monai)',
              file=sys.stderr)
        monai_post = None
    else:
        kept = [c for c in range(len(LEAVES)) if c != BOUNDARY]
        np_logits = torch.from_numpy(np.stack([probs[0], 1 - probs[0]])).clamp_min(1e-12).log()
        nc = probs[kept]
        nc_logits = torch.from_numpy(nc / nc.sum(0, keepdims=True)).clamp_min(1e-12).log()
        monai_post = MonaiHoVerNet(np_logits, torch.from_numpy(hover_maps(ids)), nc_logits)
        state = {}

        def instances():
            state['info'], state['map'] = monai_post.instances()

        fns.update(monai_instance_map=monai_post.instance_map, monai_instances=instances,
                   monai_types=lambda: monai_post.types(state['info'], state['map']))
    times, outs = alternate(fns, args.peer_repeat if monai_post else args.repeat)
    pred, leaf_probs = outs['ours']
    out = dict(ours_s=med(times['ours']), ours_runs_s=[round(t, 3) for t in times['ours']],
               ours=dict(**agreement(ids, pred),
                         type_accuracy=type_accuracy(ids, leaves, pred, leaf_probs.argmax(1))))
    print(f'route a: ours TypedContourWatershed {out["ours_s"]:.3f} s, {out["ours"]}',
          flush=True)
    if monai_post is not None:
        info, inst_map = state['info'], state['map']
        peer = np.asarray(inst_map)[0]
        assert np.array_equal(np.asarray(outs['monai_instance_map'])[0], peer)
        present = np.unique(peer)
        present = present[present > 0]
        peer_types = np.array([info[int(k)]['type'] if int(k) in info else 0
                               for k in present], np.int64)
        total = [a + b for a, b in zip(times['monai_instances'], times['monai_types'])]
        out['monai'] = dict(
            **agreement(ids, peer), type_accuracy=type_accuracy(ids, leaves, peer, peer_types),
            vs_ours=agreement(pred, peer),
            instance_map_s=med(times['monai_instance_map']),
            instance_transform_s=med(times['monai_instances']),
            type_transform_s=med(times['monai_types']), total_s=med(total),
            total_over_ours=ratio(total, times['ours']),
            instance_map_over_ours=ratio(times['monai_instance_map'], times['ours']))
        print(f'route a: MONAI HoVer-Net {out["monai"]}', flush=True)
    logits = torch.from_numpy(probs).clamp_min_(1e-12).log_()[None]
    return out, logits, pred


# -- route b --------------------------------------------------------------------------------

def stardist_dense(prob: np.ndarray, dist: np.ndarray, stride: int) -> np.ndarray:
    """stardist's dense path on the maps at candidate grid ``stride``."""
    from stardist import polygons_to_label
    from stardist.nms import non_maximum_suppression
    rays = np.moveaxis(dist, 0, -1)[::stride, ::stride]  # (H, W, R), a view
    points, scores, rays = non_maximum_suppression(
        rays, prob[::stride, ::stride], grid=(stride, stride), b=STAR_CFG['border'],
        nms_thresh=STAR_CFG['nms_thresh'], prob_thresh=STAR_CFG['prob_thresh'])
    return polygons_to_label(rays, points, prob.shape, prob=scores)


def route_b(args, ids, leaves, rng):
    """Ours against stardist's dense path; returns the results and the head's raw
    maps of the tile (probability logit, rays, leaf logits)."""
    from crossspec_mmseg.models.segmentors.stardist_segmentor import star_instances
    prob, dist = star_maps(ids, rng)
    prob_t, dist_t = torch.from_numpy(prob), torch.from_numpy(dist)
    stardist_dense(prob[:64, :64], dist[:, :64, :64], 1)  # numba/imports before timing
    out, preds = {}, {}
    for stride in args.strides:
        times, outs = alternate(dict(
            ours=lambda: star_instances(prob_t, dist_t, **STAR_CFG, candidate_stride=stride),
            dense=lambda: stardist_dense(prob, dist, stride)),
            args.repeat if stride > 1 else args.peer_repeat)
        pred, peer = outs['ours'], outs['dense']
        preds[stride] = pred
        row = dict(candidates=int((prob[2 * stride:-2 * stride:stride,
                                        2 * stride:-2 * stride:stride] > 0.5).sum()),
                   ours_s=med(times['ours']), stardist_dense_s=med(times['dense']),
                   ours_runs_s=[round(t, 3) for t in times['ours']],
                   dense_runs_s=[round(t, 3) for t in times['dense']],
                   dense_over_ours=ratio(times['dense'], times['ours']),
                   ours=agreement(ids, pred), stardist_dense=agreement(ids, peer),
                   dense_vs_ours=agreement(pred, peer),
                   same_label_map=bool(np.array_equal(relabel(peer)[0], pred)))
        out[f'candidate_stride_{stride}'] = row
        print(f'route b, candidate stride {stride}: {row}', flush=True)
    raw = torch.cat([torch.logit(prob_t.clamp(1e-4, 1 - 1e-4))[None], dist_t,
                     torch.from_numpy(leaf_logits(ids, leaves, rng))])[None]
    return out, raw, preds


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--side', type=int, default=2048)
    parser.add_argument('--nuclei', type=int, default=3500)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--repeat', type=int, default=5)
    parser.add_argument('--peer-repeat', type=int, default=3,
                        help='rounds with MONAI, and at candidate stride 1')
    parser.add_argument('--forward-repeat', type=int, default=3)
    parser.add_argument('--forward-side', type=int, default=None,
                        help='time the forward on this tile and scale by pixels (default --side)')
    parser.add_argument('--strides', type=int, nargs='+', default=[2, 1],
                        help="route b's candidate strides (the config's is 2)")
    parser.add_argument('--routes', nargs='+', choices=('a', 'b'), default=['a', 'b'])
    parser.add_argument('--torch-threads', type=int, default=len(os.sched_getaffinity(0)),
                        help='torch.set_num_threads (default: the cores this process may use)')
    parser.add_argument('--skip-forward', action='store_true',
                        help='post-processing only: no model built, no share of inference')
    args = parser.parse_args()
    forward_side = args.forward_side or args.side
    torch.set_num_threads(args.torch_threads)

    start = time.perf_counter()
    ids, leaves = synthetic_tile(args.side, args.nuclei, args.seed)
    fg = float((ids > 0).mean())
    touching = touching_nuclei(ids)
    result = dict(tile=dict(side=args.side, nuclei=int(ids.max()), seed=args.seed,
                            nucleus_pixels=round(fg, 3), touching_another=touching,
                            types={n: int((leaves == LEAVES.index(n)).sum()) for n in TYPES}),
                  torch_threads=torch.get_num_threads(),
                  OMP_NUM_THREADS=os.environ.get('OMP_NUM_THREADS'),
                  OMP_WAIT_POLICY=os.environ.get('OMP_WAIT_POLICY'),
                  load_average_before=os.getloadavg())
    print(f'tile {args.side} x {args.side}: {ids.max()} nuclei ({touching} touching another), '
          f'{fg:.1%} of the pixels, drawn in {time.perf_counter() - start:.1f} s; torch '
          f'threads {torch.get_num_threads()}; load average {os.getloadavg()}', flush=True)

    for route, run in (('a', route_a), ('b', route_b)):
        if route not in args.routes:
            continue
        rng = np.random.default_rng(args.seed + 1)
        res, seg_logits, pred = run(args, ids, leaves, rng)
        if not args.skip_forward:
            model = build_model(route)
            if route == 'b':
                model.test_cfg.update(STAR_CFG)
                stride = model.postprocess_cfg['candidate_stride']
            share, sample = share_of_inference(model, seg_logits, args.side, forward_side,
                                               args.forward_repeat)
            ids_out = sample.pred_instance_map.data[0].numpy()
            direct = pred if route == 'a' else pred.get(stride)
            if direct is not None:  # the segmentor decodes the nuclei timed above (route b:
                # from sigmoid(logit(p)), so candidates at p ~ 0.5 may differ by rounding)
                share['vs_direct'] = dict(**agreement(direct, ids_out),
                                          identical=bool(np.array_equal(direct, ids_out)))
            share.update(agreement(ids, ids_out))
            share['type_accuracy'] = type_accuracy(ids, leaves, ids_out,
                                           sample.pred_instance_leaf_probs.argmax(1).numpy())
            res['inference'] = share
            if 'monai' in res:  # MONAI's two transforms in place of ours
                peer = res['monai']['total_s']
                fwd = share['forward_s']
                res['monai']['share_if_in_place_of_ours'] = round(peer / (fwd + peer), 4)
            scaled = '' if forward_side == args.side else \
                f' (forward timed at {forward_side} px, scaled x{share["forward_scaled_by"]})'
            print(f'route {route}: forward {share["forward_s"]:.2f} s{scaled}, '
                  f'postprocess_result {share["postprocess_result_s"]:.2f} s: '
                  f'{share["share"]:.1%} of inference (rounds: {share["share_range"]})',
                  flush=True)
            del model
        result[f'route_{route}'] = res
    result['load_average_after'] = os.getloadavg()
    print(json.dumps(result, indent=1))


if __name__ == '__main__':
    main()
