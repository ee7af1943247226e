"""GroupInstanceMetric against a brute-force reference written from the
published definitions (PQ: Kirillov et al.; AJI: Kumar et al.; AJI+: Graham
et al.), with one mask comparison per (true, predicted) pair."""
import itertools

import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from crossspec_mmseg.evaluation import (
    GroupInstanceMetric,
    aggregate,
    format_group_table,
    image_counts,
)
from crossspec_mmseg.structures import INSTANCE_POSTPROCESSORS


def masks(ids):
    return [ids == i for i in np.unique(ids) if i > 0]


def reference(true, pred, ignore):
    """Scores of one image, the ignore rule applied to the masks first."""
    def kept(ids):
        return [m & ~ignore for m in masks(ids) if 2 * (m & ignore).sum() <= m.sum()]
    t, p = kept(true), kept(pred)
    iou = np.array([[(a & b).sum() / (a | b).sum() for b in p] for a in t]).reshape(len(t), len(p))
    inter = np.array([[(a & b).sum() for b in p] for a in t]).reshape(len(t), len(p))
    union = np.array([[(a | b).sum() for b in p] for a in t]).reshape(len(t), len(p))
    tp = int((iou > 0.5).sum())
    out = dict(tp=tp, fp=len(p) - tp, fn=len(t) - tp, iou_sum=iou[iou > 0.5].sum(),
               n_true=len(t), n_pred=len(p))
    # AJI (Kumar et al.): each true nucleus with its best-IoU prediction, if any overlaps.
    c = u = 0
    used = set()
    for i, a in enumerate(t):
        if len(p) and iou[i].max() > 0:
            j = int(np.argmax(iou[i]))
            c, u = c + inter[i, j], u + union[i, j]
            used.add(j)
        else:
            u += a.sum()
    u += sum(b.sum() for j, b in enumerate(p) if j not in used)
    out.update(aji_inter=c, aji_union=u)
    # AJI+: the one-to-one pairing of largest summed IoU, by enumeration.
    n = max(len(t), len(p))
    padded = np.zeros((n, n))
    padded[:len(t), :len(p)] = iou
    best = max(itertools.permutations(range(n)), key=lambda perm: padded[range(n), perm].sum())
    pairs = [(i, j) for i, j in enumerate(best) if i < len(t) and j < len(p) and iou[i, j] > 0]
    c = sum(inter[i, j] for i, j in pairs)
    u = (sum(union[i, j] for i, j in pairs) + sum(a.sum() for i, a in enumerate(t)
         if i not in {i for i, _ in pairs}) + sum(b.sum() for j, b in enumerate(p)
                                                  if j not in {j for _, j in pairs}))
    out.update(ajip_inter=c, ajip_union=u)
    return out


def ratio(a, b):
    return a / b if b else np.nan


def reference_scores(c):
    dq = ratio(c['tp'], c['tp'] + (c['fp'] + c['fn']) / 2)
    sq = ratio(c['iou_sum'], c['tp'])
    return dict(PQ=dq * sq if c['tp'] else dq, DQ=dq, SQ=sq, F1=dq,
                AJI=ratio(c['aji_inter'], c['aji_union']),
                **{'AJI+': ratio(c['ajip_inter'], c['ajip_union'])},
                precision=ratio(c['tp'], c['tp'] + c['fp']),
                recall=ratio(c['tp'], c['tp'] + c['fn']))


def random_case(rng, size=24):
    """True nuclei (some touching), a prediction that misses, shifts, splits
    and merges them and adds false ones, and an ignore region."""
    true = np.zeros((size, size), np.int64)
    for k in range(1, rng.integers(0, 6) + 1):
        y, x = rng.integers(0, size - 4, 2)
        h, w = rng.integers(3, 8, 2)
        true[y:y + h, x:x + w] = k  # later nuclei overlap earlier ones: they touch
    pred = np.zeros_like(true)
    for k in np.unique(true[true > 0]):
        if rng.random() < 0.15:
            continue  # missed
        m = np.roll(true == k, tuple(rng.integers(-1, 2, 2)), axis=(0, 1))
        pred[m] = 10 * k
        if rng.random() < 0.25:  # split in two
            ys = np.nonzero(m)[0]
            pred[m & (np.arange(size)[:, None] > ys.mean())] = 10 * k + 1
    ids = np.unique(pred[pred > 0])
    if len(ids) > 1 and rng.random() < 0.4:  # merge two
        pred[pred == ids[1]] = ids[0]
    if rng.random() < 0.5:  # a false nucleus
        y, x = rng.integers(0, size - 3, 2)
        pred[y:y + 3, x:x + 3] = 99
    ignore = np.zeros_like(true, bool)
    if rng.random() < 0.5:
        y, x = rng.integers(0, size - 6, 2)
        ignore[y:y + 6, x:x + 6] = True
    return true, pred, ignore


def test_counts_equal_the_brute_force_reference():
    rng = np.random.default_rng(0)
    cases = [random_case(rng) for _ in range(150)]
    cases.append((np.zeros((8, 8), np.int64),) * 2 + (np.zeros((8, 8), bool),))  # empty
    assert sum(c[0].max() == 0 for c in cases) > 3 and sum(c[2].any() for c in cases) > 30
    for true, pred, ignore in cases:
        ours, ref = image_counts(true, pred, ignore), reference(true, pred, ignore)
        assert ours.keys() == ref.keys()
        for key in ref:
            assert ours[key] == pytest.approx(ref[key]), key


def test_ignore_rule_drops_instances_mostly_ignored():
    true = np.zeros((4, 10), np.int64)
    true[:, 0:4], true[:, 5:9] = 1, 2
    ignore = np.zeros_like(true, bool)
    ignore[:, 0:3] = True   # 75 % of nucleus 1: left out
    ignore[:, 5:7] = True   # 50 % of nucleus 2: kept, scored on its other half
    pred = np.zeros_like(true)
    pred[:, 7:9] = 5
    counts = image_counts(true, pred, ignore)
    assert counts['n_true'] == 1 and counts['tp'] == 1 and counts['iou_sum'] == 1
    assert image_counts(pred, true, ignore)['n_pred'] == 1  # the same rule for predictions


def sample(classes, gt_classes, species, instances=None):
    s = SegDataSample(metainfo=dict(species=species, organ='kidney', img_path=f'{species}.png'))
    s.pred_sem_seg = PixelData(data=torch.as_tensor(classes)[None])
    s.gt_sem_seg = PixelData(data=torch.as_tensor(gt_classes)[None])
    if instances is not None:
        s.gt_instance_map = PixelData(data=torch.as_tensor(instances)[None])
    return s.to_dict()


def test_metric_overall_and_per_group_aggregate_as_documented():
    rng = np.random.default_rng(1)
    data = []
    for k in range(12):
        true, pred, ignore = random_case(rng)
        gt = np.where(ignore, 255, true > 0)
        data.append((true, pred, ignore, gt, 'human' if k < 5 else 'mouse'))
    metric = GroupInstanceMetric(report_by=('species', ('species', 'organ')),
                                 postprocess=dict(type='ConnectedComponents', connectivity=4))
    metric.dataset_meta = dict(classes=('background', 'nucleus'))
    post = INSTANCE_POSTPROCESSORS.build(dict(type='ConnectedComponents', connectivity=4))
    metric.process({}, [sample(pred > 0, gt, s, true) for true, pred, _, gt, s in data])
    result = metric.evaluate(len(data))
    for prefix, subset in (('', data), ('species/human/', data[:5]),
                           ('species+organ/mouse+kidney/', data[5:])):
        images = [reference(true, post(pred > 0), ignore) for true, pred, ignore, _, _ in subset]
        total = {k: sum(img[k] for img in images) for k in images[0]}
        for key, value in reference_scores(total).items():
            assert result[prefix + key] == pytest.approx(value * 100, abs=0.01), prefix + key
        per_image = np.array([reference_scores(img)['PQ'] for img in images]) * 100
        finite = per_image[np.isfinite(per_image)]
        assert result[prefix + 'PQ_img'] == pytest.approx(finite.mean(), abs=0.01)
        assert result[prefix + 'PQ_img_std'] == pytest.approx(finite.std(), abs=0.01)
        assert result[prefix + 'nuclei'] == total['n_true']
    table = format_group_table(result)
    assert 'species=human' in table and 'AJI+' in table and 'mIoU' in table


def test_without_an_instance_map_the_ground_truth_components_are_the_nuclei():
    gt = np.zeros((8, 8), np.int64)
    gt[1:3, 1:3] = gt[5:7, 5:7] = 1
    pred = gt.copy()
    pred[5:7, 5:7] = 0
    metric = GroupInstanceMetric()
    metric.process({}, [sample(pred, gt, 'human')])
    result = metric.evaluate(1)
    assert (result['nuclei'], result['precision'], result['recall']) == (2, 100, 50)


def test_contour_watershed_splits_touching_nuclei():
    classes = np.zeros((10, 14), np.int64)
    classes[2:8, 1:13] = 2         # one boundary blob around ...
    classes[3:7, 2:6] = 1          # ... two interiors
    classes[3:7, 8:12] = 1
    classes[0, 0] = 1              # a one-pixel interior below min_size
    ids = INSTANCE_POSTPROCESSORS.build(dict(type='ContourWatershed', min_size=2))(classes)
    assert ids.max() == 2 and (ids > 0).sum() == (classes[1:] > 0).sum()
    assert set(np.unique(ids[2:8, 1:7])) == {1} and set(np.unique(ids[2:8, 8:13])) == {2}


def test_config_evaluator_list_on_the_demo_pipeline(demo_data):
    """The tiny config's [GroupIoUMetric, GroupInstanceMetric] on its own test
    pipeline (instance maps from the converter), the true mask as prediction:
    touching nuclei merge in its components, so instance scores stay below 100."""
    from mmengine.config import Config
    from mmengine.evaluator import Evaluator
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS

    from helpers import TINY_CONFIG
    init_default_scope('mmseg')
    cfg = Config.fromfile(TINY_CONFIG)
    dataset = DATASETS.build(dict(cfg.test_dataloader.dataset, data_root=demo_data))
    evaluator = Evaluator(cfg.test_evaluator)
    evaluator.dataset_meta = dataset.metainfo
    truth, merged = [], []
    for i in range(len(dataset)):
        s = dataset[i]['data_samples']
        s.pred_sem_seg = PixelData(data=torch.where(s.gt_sem_seg.data == 255, 0,
                                                    s.gt_sem_seg.data))
        evaluator.process([s])
        ids, sem = s.gt_instance_map.data.numpy(), s.gt_sem_seg.data.numpy()
        truth.append(image_counts(ids, ids, sem == 255))
        merged.append(image_counts(ids, INSTANCE_POSTPROCESSORS.build(
            cfg.test_evaluator[1]['postprocess'])(sem[0] == 1)[None], sem == 255))
    metrics = evaluator.evaluate(len(dataset))
    assert metrics['mIoU'] == 100 and metrics['species/mouse/mIoU'] == 100
    assert aggregate(truth)['PQ'] == 100 and metrics['nuclei'] == aggregate(truth)['nuclei']
    for key in ('PQ', 'AJI', 'AJI+'):
        assert metrics[key] == aggregate(merged)[key] < 100
