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


# ------------------------------------------------------------------ typed mode
TYPED_CLASSES = ('background', 'neo', 'inflam', 'conn')


def typed_pair():
    """Two hand-built images (tests/evaluation/test_typed_instance_scores.py's
    ``hand_built``): instance maps, their types, type maps, predicted instance
    maps and types."""
    true = np.zeros((20, 40), np.int64)
    true[0:10, 0:10], true[0:10, 20:25], true[12:16, 30:34] = 1, 2, 3
    types = np.zeros_like(true)
    types[true == 1], types[true == 2], types[true == 3] = 1, 1, 2
    pred = np.zeros_like(true)
    pred[0:8, 0:10], pred[0:10, 20:25], pred[15:19, 0:4], pred[12:16, 12:16] = 7, 8, 9, 4
    pred_types = np.zeros(9, np.int64)
    pred_types[[6, 7, 8]] = [1, 2, 3]
    block = np.ones((10, 5), np.int64)
    return [(true, [1, 1, 2], types, pred, pred_types),
            (block, [2], 2 * block, block, np.array([2]))]


def typed_sample(true, types, pred=None, pred_types=None, organ='kidney', mpp=0.25, **extra):
    meta = dict(species='human', organ=organ, dataset='d', mpp=mpp, img_path=f'{organ}.png')
    s = SegDataSample(metainfo=dict(meta, **extra))
    s.gt_sem_seg = PixelData(data=torch.as_tensor(types)[None])
    s.gt_instance_map = PixelData(data=torch.as_tensor(true)[None])
    s.pred_sem_seg = PixelData(data=torch.zeros_like(torch.as_tensor(types))[None])
    if pred is not None:
        s.pred_instance_map = PixelData(data=torch.as_tensor(pred)[None])
        s.pred_instance_types = torch.as_tensor(pred_types)
    return s


def test_typed_metric_gives_the_typed_scores_per_set_and_group():
    """The hand-built pair in kidney plus its second image again in liver:
    PanNuke's mPQ averages per organ first (kidney 63.33, liver 100)."""
    from crossspec_mmseg.evaluation import typed_aggregate, typed_image_counts
    metric = GroupInstanceMetric(types=True, report_by=('organ',))
    metric.dataset_meta = dict(classes=TYPED_CLASSES)
    cases = typed_pair()
    cases, organs = cases + cases[1:], ('kidney', 'kidney', 'liver')
    metric.process({}, [typed_sample(t, type_map, p, pt, organ=o).to_dict()
                        for (t, _, type_map, p, pt), o in zip(cases, organs)])
    result = metric.evaluate(3)
    # image mPQ 0.8 / 3 and 1 in kidney, 1 in liver; bPQ 0.6 and 1, 1; 4 centroid
    # pairs, 1 unpaired each side; type 2: TP 2, FP 1, FN 1 (PQ 2 / 3), F1 4 / 7
    assert (result['mPQ'], result['bPQ'], result['F1d']) == (81.67, 90, 80)
    assert (result['PQ_inflam'], result['F1_neo'], result['F1_inflam']) == (66.67, 50, 57.14)
    direct = [dict(typed_image_counts(t, tt, p, pt, 4), tissue=o)
              for (t, tt, _, p, pt), o in zip(cases, organs)]
    for key, value in typed_aggregate(direct, TYPED_CLASSES).items():
        assert result[key] == value, key
    # binary keys as before, on the predictions typed as nuclei (4 is typed background)
    assert result['nuclei'] == 5 and result['nuclei_pred'] == 5 and result['DQ'] == 80
    assert result['organ/kidney/mPQ'] == 63.33 and result['organ/liver/PQ_inflam'] == 100
    assert result['organ/kidney/PQ_conn'] == 0 and result['organ/kidney/F1_conn'] == 0


def test_typed_metric_radius_follows_the_sample_mpp():
    """One nucleus predicted 10 px off: a detection at 0.25 um/px, not at 0.5."""
    true = np.zeros((40, 40), np.int64)
    true[2:22, 2:22] = 1
    pred = np.roll(true, 10, axis=0)
    scores = {}
    for mpp in (0.25, 0.5):
        metric = GroupInstanceMetric(types=True, report_by=())
        metric.dataset_meta = dict(classes=('background', 'nucleus'))
        metric.process({}, [typed_sample(true, true, pred, [1], mpp=mpp).to_dict()])
        scores[mpp] = metric.evaluate(1)['F1d']
    assert scores == {0.25: 100, 0.5: 0}


def tree_dict():
    """Leaves bg, epi_normal, epi_tumour, lymph; sets fine (the leaves) and
    coarse (background, epithelial, immune)."""
    return dict(leaves=['bg', 'epi_normal', 'epi_tumour', 'lymph'],
                nodes=dict(background=['bg'], epithelial=['epi_normal', 'epi_tumour'],
                           immune=['lymph']),
                label_sets=dict(fine=['bg', 'epi_normal', 'epi_tumour', 'lymph'],
                                coarse=['background', 'epithelial', 'immune']))


def test_typed_metric_sums_leaf_probabilities_into_the_sample_label_set():
    """Fallback path: instances from the leaf argmax, types from seg_logits.
    Nucleus 1's likeliest leaf is lymph (0.4), but its epithelial leaves sum
    to 0.5: in the coarse set it is epithelial (right); in the fine set the
    same pixels are lymph (a wrong type)."""
    probs = np.zeros((4, 12, 12))
    probs[0] = 1
    probs[:, 1:5, 1:5] = np.array([0.1, 0.25, 0.25, 0.4])[:, None, None]
    probs[:, 7:11, 7:11] = np.array([0.1, 0.0, 0.2, 0.7])[:, None, None]
    true = np.zeros((12, 12), np.int64)
    true[1:5, 1:5], true[7:11, 7:11] = 1, 2
    metric = GroupInstanceMetric(types=True, label_tree=tree_dict(), report_by=('dataset',),
                                 postprocess=dict(type='ConnectedComponents',
                                                  classes=(1, 2, 3)))
    metric.dataset_meta = dict(classes=('bg', 'epi_normal', 'epi_tumour', 'lymph'))
    samples = []
    for name, offset, types in (('coarse', 4, [1, 2]), ('fine', 0, [1, 3])):
        label = np.zeros_like(true)
        label[true == 1], label[true == 2] = types
        s = typed_sample(true, label + offset, dataset=name, label_offset=offset)
        s.pred_sem_seg = PixelData(data=torch.as_tensor(probs.argmax(0))[None])
        s.seg_logits = PixelData(data=torch.as_tensor(np.log(probs + 1e-12)))
        samples.append(s.to_dict())
    metric.process({}, samples)
    result = metric.evaluate(2)
    assert 'mPQ' not in result and result['PQ'] == 100  # two label sets: binary keys only
    assert result['labelset/coarse/PQ_epithelial'] == 100
    assert result['labelset/coarse/PQ_immune'] == 100
    assert result['dataset/coarse/F1_epithelial'] == 100
    assert result['labelset/fine/PQ_epi_normal'] == 0    # called lymph
    assert result['labelset/fine/F1_lymph'] == pytest.approx(100 * 2 / 4)
    assert result['labelset/fine/acc_type'] == 50


def test_typed_metric_needs_instance_maps_and_mpp():
    true = np.ones((4, 4), np.int64)
    metric = GroupInstanceMetric(types=True, report_by=())
    metric.dataset_meta = dict(classes=('background', 'nucleus'))
    no_map = typed_sample(true, true, true, [1]).to_dict()
    del no_map['gt_instance_map']
    with pytest.raises(KeyError, match='gt_instance_map'):
        metric.process({}, [no_map])
    with pytest.raises(KeyError, match='mpp'):
        metric.process({}, [typed_sample(true, true, true, [1], mpp='').to_dict()])
    metric = GroupInstanceMetric(types=True, report_by=(), mpp=0.5)
    metric.dataset_meta = dict(classes=('background', 'nucleus'))
    metric.process({}, [typed_sample(true, true, true, [1], mpp='').to_dict()])
    assert metric.evaluate(1)['mPQ'] == 100


def test_typed_metric_on_the_nucleus_tree():
    """CoNSeP's "other" (the unknown-type node) is no class: its nucleus counts
    for detection only and no prediction is typed "other". MoNuSAC's
    background may hold stromal nuclei: a prediction typed fibroblast is
    dropped there. Label sets found from the labels' node ids."""
    from crossspec_mmseg.structures import LabelTree
    tree = LabelTree.build('nucleus')
    metric = GroupInstanceMetric(types=True, label_tree='nucleus', report_by=('dataset',))
    metric.dataset_meta = dict(classes=tuple(tree.leaves))
    true = np.zeros((12, 12), np.int64)
    true[1:5, 1:5], true[7:11, 7:11] = 1, 2

    def probs(*leaves):
        out = np.zeros((len(leaves), len(tree.leaves)))
        out[range(len(leaves)), [tree.leaves.index(leaf) for leaf in leaves]] = 1
        return torch.as_tensor(out)

    consep = np.where(true == 1, 1, np.where(true == 2, 2, 0)) + tree.offsets['consep']
    monusac = np.where(true == 1, 1, 0) + tree.offsets['monusac']  # nucleus 2 not annotated
    samples = []
    for name, label, truth, leaves in (
            ('consep', consep, true, ('lymphocyte', 'lymphocyte')),
            ('monusac', monusac, np.where(true == 1, 1, 0), ('normal_epithelial', 'fibroblast'))):
        s = typed_sample(truth, label, dataset=name)
        s.pred_instance_map = PixelData(data=torch.as_tensor(true)[None])
        s.pred_instance_leaf_probs = probs(*leaves)
        samples.append(s.to_dict())
    metric.process({}, samples)
    result = metric.evaluate(2)
    # CoNSeP: both found (bPQ, F1d 100); both typed immune: one right, one against "other"
    assert result['dataset/consep/bPQ'] == 100 and result['dataset/consep/F1d'] == 100
    assert result['dataset/consep/PQ_immune'] == 66.67       # TP 1, FP 1
    assert 'dataset/consep/PQ_nucleus' not in result and 'dataset/consep/F1_fibroblast' in result
    # MoNuSAC: the fibroblast prediction is background there, so no false positive
    assert result['labelset/monusac/nuclei_pred'] == 1 and result['labelset/monusac/PQ'] == 100
    assert result['labelset/monusac/PQ_epithelial'] == 100
    # a prediction typed directly as "other" cannot be scored as a class: refused
    s = typed_sample(true, consep, true, [1, 2], dataset='consep')
    with pytest.raises(ValueError, match=r'\[1\] are no class'):
        metric.process({}, [s.to_dict()])


@pytest.mark.parametrize('layout', ['pannuke', 'conic'])
def test_npy_export_scores_the_same_in_the_official_scripts(tmp_path, layout):
    """--nuclei-npy's layouts, fed to re-writes of PanNuke-metrics' run.py and
    CoNIC's compute_stats.py, give the metric's own mPQ/bPQ and mPQ+; the
    table prints one row per group with its classes."""
    from test_typed_instance_scores import conic_mpq, pannuke_run

    from crossspec_mmseg.evaluation import format_typed_tables
    metric = GroupInstanceMetric(types=True, report_by=('organ',), npy_dir=str(tmp_path),
                                 npy_layout=layout)
    metric.dataset_meta = dict(classes=TYPED_CLASSES)
    first, (block, block_types, block_map, block_pred, block_pred_types) = typed_pair()
    padded = [np.pad(a, ((0, 10), (0, 35))) for a in (block, block_map, block_pred)]
    second = (padded[0], block_types, padded[1], padded[2], block_pred_types)
    cases, organs = (first, second, second), ('Breast', 'Breast', 'Colon')
    metric.process({}, [typed_sample(t, type_map, p, pt, organ=o).to_dict()
                        for (t, _, type_map, p, pt), o in zip(cases, organs)])
    result = metric.evaluate(3)
    true, pred = (np.load(tmp_path / 'all' / f'{k}.npy') for k in ('true', 'pred'))
    assert true.shape == pred.shape == (3, 20, 40, 4 if layout == 'pannuke' else 2)
    rows = (tmp_path / 'all' / 'images.csv').read_text().splitlines()
    assert rows == ['row,image', '0,Breast.png', '1,Breast.png', '2,Colon.png']
    assert not (tmp_path / '.parts').exists()
    if layout == 'pannuke':
        images = [dict(true=t[..., :3].max(-1), pred=p[..., :3].max(-1), true_channels=t[..., :3],
                       pred_channels=p[..., :3], tissue=o) for t, p, o in zip(true, pred, organs)]
        np.testing.assert_array_equal(true[..., 3], true[..., :3].max(-1) == 0)
        mpq, bpq, _, _ = pannuke_run(images)
        assert (round(100 * mpq, 2), round(100 * bpq, 2)) == (result['mPQ'], result['bPQ'])
    else:
        images = [dict(true=t[..., 0], pred=p[..., 0], true_class=t[..., 1],
                       pred_class=p[..., 1]) for t, p in zip(true, pred)]
        assert round(100 * conic_mpq(images, nr_classes=3)[0], 2) == result['mPQ+']
    table = format_typed_tables(result)
    assert table.count('organ=') == 2 and 'PQ_inflam' in table and 'mPQ+' in table


def test_npy_export_needs_typed_scores_and_one_image_size(tmp_path):
    metric = GroupInstanceMetric(types=True, report_by=(), npy_dir=str(tmp_path))
    metric.dataset_meta = dict(classes=TYPED_CLASSES)
    metric.process({}, [typed_sample(t, type_map, p, pt, organ=o).to_dict()
                        for (t, _, type_map, p, pt), o in zip(typed_pair(), ('a', 'b'))])
    with pytest.raises(ValueError, match=r'b.png: \(10, 5\) differs from the first image'):
        metric.evaluate(2)
    assert not (tmp_path / 'all' / 'true.npy').exists()
    with pytest.raises(ValueError, match='set types=True'):
        GroupInstanceMetric(npy_dir=str(tmp_path))
    with pytest.raises(ValueError, match="npy layout must be one of"):
        GroupInstanceMetric(types=True, npy_dir=str(tmp_path), npy_layout='hovernet')
