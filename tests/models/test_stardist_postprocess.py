"""StarDist post-processing: from the probability and distances of known
polygons it recovers the instances (the same as stardist's own dense NMS and
rasterisation), their types from the leaf logits (the background leaf kept
out unless asked), the typed metric scores them, and the TTA merge of flipped
views decodes the same nuclei."""
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample
from stardist import non_maximum_suppression, polygons_to_label
from tiny_stardist import tiny_model

from crossspec_mmseg.datasets.transforms.star_targets import star_targets
from crossspec_mmseg.demo.downloads.pannuke import draw_nuclei
from crossspec_mmseg.models import StarDistTTAModel
from crossspec_mmseg.models.segmentors.stardist_segmentor import star_instances
from crossspec_mmseg.structures import LabelTree

TREE = LabelTree.build('nucleus')
N_RAYS = 32


def known_nuclei(seed=3, shape=(64, 72)):
    """Discs, some touching, plus two touching rectangles; consecutive ids."""
    ids = draw_nuclei(np.random.default_rng(seed), shape, 10, radius=(4, 8), gap=-1)
    n = ids.max()
    ids[50:58, 50:62], ids[50:58, 62:70] = n + 1, n + 2
    return ids


def matches(true, pred):
    """For each true nucleus, the predicted id covering most of it and the IoU."""
    out = {}
    for i in np.unique(true)[1:]:
        ids, counts = np.unique(pred[true == i], return_counts=True)
        j = ids[np.argmax(counts)]
        inter = np.sum((true == i) & (pred == j))
        out[i] = (j, inter / np.sum((true == i) | (pred == j)) if j else 0.0)
    return out


@pytest.mark.parametrize('stride', [1, 2])
def test_known_polygons_come_back(stride):
    true = known_nuclei()
    prob, dist = star_targets(true, N_RAYS)
    pred = star_instances(torch.from_numpy(prob), torch.from_numpy(dist).permute(2, 0, 1),
                          prob_thresh=0.5, nms_thresh=0.4, border=0, candidate_stride=stride)
    assert pred.dtype == np.int32 and pred.max() == true.max()
    found = matches(true, pred)
    assert len({j for j, _ in found.values()}) == true.max()  # one prediction per nucleus
    assert min(iou for _, iou in found.values()) > 0.8


def test_same_nuclei_as_stardists_dense_nms_and_rasterisation():
    true = known_nuclei(seed=5)
    prob, dist = star_targets(true, N_RAYS)
    noisy = np.clip(prob + np.random.default_rng(0).normal(0, 0.05, prob.shape), 0, 1)
    noisy = noisy.astype(np.float32)
    points, scores, rays = non_maximum_suppression(dist, noisy, prob_thresh=0.5, nms_thresh=0.4,
                                                   b=2)
    theirs = polygons_to_label(rays, points, true.shape, prob=scores)
    ours = star_instances(torch.from_numpy(noisy), torch.from_numpy(dist).permute(2, 0, 1),
                          prob_thresh=0.5, nms_thresh=0.4, border=2)
    present = np.unique(theirs)[1:]
    lut = np.zeros(theirs.max() + 1, np.int32)
    lut[present] = np.arange(1, len(present) + 1)
    np.testing.assert_array_equal(ours, lut[theirs])
    assert star_instances(torch.zeros(8, 8), torch.zeros(N_RAYS, 8, 8)).max() == 0


def leaf_logits(true, leaves, background=6.0, score=6.0):
    """Leaf logits: the background leaf outside nuclei, nucleus k's leaf inside."""
    logits = torch.zeros(len(TREE.leaves), *true.shape)
    logits[0] = torch.from_numpy(np.where(true == 0, background, 0.0))
    for k, leaf in enumerate(leaves, start=1):
        logits[TREE.leaves.index(leaf)][torch.from_numpy(true == k)] = score
    return logits


def decoded(model, true, logits):
    prob, dist = star_targets(true, N_RAYS)
    sample = SegDataSample(metainfo=dict(img_path='t.png'))
    sample.set_data(dict(pred_star_prob=PixelData(data=torch.from_numpy(prob)[None]),
                         pred_star_dist=PixelData(data=torch.from_numpy(dist).permute(2, 0, 1)),
                         seg_logits=PixelData(data=logits)))
    return model.decode_instances(sample)


def test_types_are_the_mean_leaf_probabilities_of_each_nucleus():
    true = known_nuclei()
    kinds = ['lymphocyte', 'fibroblast', 'neoplastic_epithelial', 'necrotic']
    leaves = [kinds[k % 4] for k in range(true.max())]
    model = tiny_model(n_rays=N_RAYS, test_cfg=dict(border=0))
    sample = decoded(model, true, leaf_logits(true, leaves))
    pred = sample.pred_instance_map.data[0].numpy()
    probs = sample.pred_instance_leaf_probs
    assert probs.shape == (pred.max(), len(TREE.leaves)) and 'pred_star_dist' not in sample
    torch.testing.assert_close(probs.sum(dim=1), torch.ones(len(probs)))
    sem = sample.pred_sem_seg.data[0].numpy()
    assert (sem[pred == 0] == 0).all()
    for i, (j, _) in matches(true, pred).items():
        leaf = TREE.leaves.index(leaves[i - 1])
        assert int(probs[j - 1].argmax()) == leaf and (sem[pred == j] == leaf).all()
        assert float(probs[j - 1, 0]) == 0  # the background leaf is no type by default

    # A faint nucleus (its pixels favour the background leaf): a nucleus all the same by
    # default (the object probability decided), typed background with StarDist's own rule.
    faint = leaf_logits(true, leaves)
    faint[0][torch.from_numpy(true == 1)] = 8.0
    j = matches(true, pred)[1][0]
    by_default = decoded(model, true, faint).pred_instance_leaf_probs[j - 1]
    assert TREE.leaves[int(by_default.argmax())] == leaves[0]
    stardist_rule = tiny_model(n_rays=N_RAYS, test_cfg=dict(border=0,
                                                            types_include_background=True))
    assert int(decoded(stardist_rule, true, faint).pred_instance_leaf_probs[j - 1].argmax()) == 0


def test_the_typed_metric_scores_the_decoded_nuclei():
    """PanNuke labels (node ids of the pannuke set), the decoded sample into
    GroupInstanceMetric(types=True, label_tree='nucleus'): every nucleus found
    and typed right (inflammatory = any immune leaf)."""
    from crossspec_mmseg.evaluation import GroupInstanceMetric
    true = known_nuclei()
    leaves = ['lymphocyte', 'fibroblast', 'neoplastic_epithelial'] * 5
    pannuke = {'lymphocyte': 2, 'fibroblast': 3, 'neoplastic_epithelial': 1}
    types = np.zeros_like(true)
    for k in range(1, true.max() + 1):
        types[true == k] = pannuke[leaves[k - 1]]
    model = tiny_model(n_rays=N_RAYS, test_cfg=dict(border=0))
    sample = decoded(model, true, leaf_logits(true, leaves[:true.max()]))
    sample.set_metainfo(dict(species='human', organ='colon', mpp=0.25))
    sample.gt_sem_seg = PixelData(data=torch.from_numpy(types)[None])
    sample.gt_instance_map = PixelData(data=torch.from_numpy(true)[None])
    metric = GroupInstanceMetric(types=True, label_tree='nucleus', report_by=())
    metric.dataset_meta = dict(classes=tuple(TREE.leaves))
    metric.process({}, [sample.to_dict()])
    scores = metric.evaluate(1)
    assert scores['F1d'] == 100 and scores['acc_type'] == 100 and scores['nuclei'] == true.max()
    assert scores['bPQ'] > 80 and scores['mPQ'] > 80 and scores['PQ_immune'] > 80


def test_tta_merges_flipped_views_and_decodes_once():
    """Three views of the same maps (as the network would predict them on the
    tile, its horizontal and its vertical flip) merge back to the nuclei of
    the tile; the views themselves decode nothing."""
    true = known_nuclei(seed=4)
    leaves = ['macrophage'] * true.max()
    model = tiny_model(n_rays=N_RAYS, test_cfg=dict(border=0))
    tta = StarDistTTAModel(module=model)
    logits = leaf_logits(true, leaves)
    h, w = true.shape
    views = []
    for direction, axis in ((None, None), ('horizontal', 1), ('vertical', 0)):
        ids = true if axis is None else np.ascontiguousarray(np.flip(true, axis))
        prob, dist = star_targets(ids, N_RAYS)
        classes = logits if axis is None else logits.flip(axis + 1)
        stacked = torch.cat([torch.logit(torch.from_numpy(prob).clamp(1e-4, 1 - 1e-4))[None],
                             torch.from_numpy(dist).permute(2, 0, 1), classes])[None]
        meta = dict(ori_shape=(h, w), img_shape=(h, w), flip=axis is not None,
                    flip_direction=direction)
        with model.instances_deferred():
            view = model.postprocess_result(stacked, [SegDataSample(metainfo=meta)])[0]
        assert 'pred_instance_map' not in view and 'pred_star_dist' in view
        views.append(view)
    merged = tta.merge_preds([views])[0]
    pred = merged.pred_instance_map.data[0].numpy()
    found = matches(true, pred)
    assert pred.max() == true.max() and min(iou for _, iou in found.values()) > 0.8
    macrophage = TREE.leaves.index('macrophage')
    assert (merged.pred_instance_leaf_probs.argmax(dim=1) == macrophage).all()
    torch.testing.assert_close(merged.seg_logits.data.softmax(dim=0), logits.softmax(dim=0))
    assert merged.flip is False  # the tile's own view
