"""TypedContourWatershed (issue 26, route a): known nuclei and types back from
synthetic probability maps of a typed contour head, touching nuclei of one
type apart, and its output scored by GroupInstanceMetric on the nucleus tree."""
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

import crossspec_mmseg  # noqa: F401
from crossspec_mmseg.converters.nuinsseg import contour_target
from crossspec_mmseg.evaluation import GroupInstanceMetric
from crossspec_mmseg.structures import (
    INSTANCE_POSTPROCESSORS,
    LabelTree,
    TypedContourWatershed,
    instance_mean_probabilities,
    nucleus_label_offset,
)

CONTOUR = LabelTree.build('nucleus_contour')
NUCLEUS = LabelTree.build('nucleus')
BOUNDARY = len(CONTOUR.leaves) - 1


def leaf(name):
    return CONTOUR.leaves.index(name)


def disc(shape, centre, radius):
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    return (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 <= radius ** 2


def scene(shape=(48, 64)):
    """Five nuclei: a row of three touching lymphocytes (one type), a fibroblast
    touching the last of them, and a neoplastic nucleus alone. Returns the
    instance map and each instance's leaf."""
    ids = np.zeros(shape, np.int32)
    nuclei = [((16, 12), 7, 'lymphocyte'), ((16, 24), 7, 'lymphocyte'),
              ((16, 36), 7, 'lymphocyte'), ((28, 40), 7, 'fibroblast'),
              ((36, 14), 6, 'neoplastic_epithelial')]
    for k, (centre, radius, _) in enumerate(nuclei, start=1):
        ids[disc(shape, centre, radius) & (ids == 0)] = k
    return ids, [leaf(name) for *_, name in nuclei]


def probabilities(ids, leaves, rng, width=1, noise=0.8, sharpness=5.0):
    """A head's softmax: the typed contour target's class, with noise on every logit
    (specks of a pixel or two: min_size=10 drops them)."""
    target = np.zeros(ids.shape, np.int64)
    target[ids > 0] = np.asarray(leaves)[ids[ids > 0] - 1]
    target[contour_target(ids, width) == 2] = BOUNDARY
    logits = sharpness * np.eye(len(CONTOUR.leaves))[target].transpose(2, 0, 1)
    logits = logits + noise * rng.standard_normal(logits.shape)
    return torch.as_tensor(logits).softmax(0).numpy().astype(np.float32)


def iou(a, b):
    return (a & b).sum() / (a | b).sum()


def test_recovers_known_nuclei_and_types_touching_ones_of_one_type_apart():
    ids, leaves = scene()
    probs = probabilities(ids, leaves, np.random.default_rng(0))
    pred, leaf_probs = TypedContourWatershed(min_size=10)(probs)
    assert pred.dtype == np.int32 and pred.max() == len(leaves)
    assert leaf_probs.shape == (len(leaves), len(NUCLEUS.leaves))  # boundary column dropped
    np.testing.assert_allclose(leaf_probs.sum(1), 1, rtol=1e-5)
    for k, true_leaf in enumerate(leaves, start=1):
        match = np.bincount(pred[ids == k], minlength=pred.max() + 1)[1:].argmax() + 1
        assert iou(pred == match, ids == k) > 0.95, k  # the ring goes back to its nucleus
        assert leaf_probs[match - 1].argmax() == true_leaf
    # the three touching lymphocytes are three nuclei
    assert len({int(np.bincount(pred[ids == k]).argmax()) for k in (1, 2, 3)}) == 3
    # the boundary alone would merge them: interiors are what keeps them apart
    merged = INSTANCE_POSTPROCESSORS.build(dict(type='ConnectedComponents', classes=(1,)))(
        (probs.argmax(0) != 0).astype(np.uint8))
    assert merged.max() < len(leaves)


def test_leaf_probabilities_are_the_instance_means_without_the_boundary():
    rng = np.random.default_rng(1)
    ids, leaves = scene()
    probs = probabilities(ids, leaves, rng, noise=2.0, sharpness=1.0)
    pred, leaf_probs = TypedContourWatershed()(probs)
    for k in range(1, pred.max() + 1):
        mean = probs[:, pred == k].mean(1)
        np.testing.assert_allclose(leaf_probs[k - 1], mean[:-1] / mean[:-1].sum(), rtol=1e-5)
    np.testing.assert_allclose(instance_mean_probabilities(pred, probs)[:, -1],
                               [probs[-1, pred == k].mean() for k in range(1, pred.max() + 1)],
                               rtol=1e-6)


def test_small_markers_nuclei_and_empty_maps():
    ids, leaves = scene()
    probs = probabilities(ids, leaves, np.random.default_rng(2), noise=0.0)
    assert TypedContourWatershed(min_size=160)(probs)[0].max() == 0  # all nuclei < 160 px
    background = np.zeros_like(probs)
    background[0] = 1
    pred, leaf_probs = TypedContourWatershed()(background)
    assert pred.shape == ids.shape and not pred.any() and leaf_probs.shape == (0, 14)
    with pytest.raises(ValueError, match='C x H x W'):
        TypedContourWatershed()(probs.argmax(0))
    with pytest.raises(ValueError, match='at least one nucleus channel'):
        TypedContourWatershed()(probs[:2])


def sample(dataset, ids, type_map, pred, leaf_probs, organ='colon'):
    s = SegDataSample(metainfo=dict(dataset=dataset, organ=organ, mpp=0.5,
                                    img_path=f'{dataset}.png'))
    label = np.where(type_map == 255, 255, type_map + nucleus_label_offset(dataset))
    s.gt_sem_seg = PixelData(data=torch.as_tensor(label)[None])
    s.gt_instance_map = PixelData(data=torch.as_tensor(ids)[None])
    s.pred_sem_seg = PixelData(data=torch.zeros(1, *ids.shape, dtype=torch.long))
    s.pred_instance_map = PixelData(data=torch.as_tensor(pred)[None])
    s.pred_instance_leaf_probs = torch.as_tensor(leaf_probs)
    return s.to_dict()


def test_metric_scores_them_in_each_dataset_label_set():
    """The columns are the nucleus tree's leaves: PanNuke scores the
    lymphocytes as inflammatory, CoNSeP the fibroblast as fibroblast, MoNuSAC
    drops the fibroblast (its background holds stromal nuclei)."""
    ids, leaves = scene()
    pred, leaf_probs = TypedContourWatershed(min_size=10)(
        probabilities(ids, leaves, np.random.default_rng(3)))
    own = dict(pannuke=[2, 2, 2, 3, 1], consep=[2, 2, 2, 5, 4], monusac=[2, 2, 2, 0, 1])
    metric = GroupInstanceMetric(types=True, label_tree='nucleus', report_by=('dataset',))
    metric.dataset_meta = dict(classes=tuple(NUCLEUS.leaves))
    samples = []
    for dataset, types in own.items():
        type_map = np.concatenate([[0], types])[ids]
        truth = np.where(type_map > 0, ids, 0)  # MoNuSAC never annotated the fibroblast
        samples.append(sample(dataset, truth, type_map, pred, leaf_probs))
    metric.process({}, samples)
    result = metric.evaluate(len(samples))
    for dataset in own:
        assert result[f'dataset/{dataset}/F1d'] == 100, dataset
        assert result[f'dataset/{dataset}/bPQ'] > 85 and result[f'dataset/{dataset}/mPQ'] > 85
        assert result[f'dataset/{dataset}/acc_type'] == 100
    assert result['dataset/pannuke/PQ_immune'] > 85 and result['dataset/consep/PQ_fibroblast'] > 85
    assert result['labelset/monusac/nuclei_pred'] == 4  # the fibroblast typed background
    assert not any('boundary' in key for key in result)
