"""The typed contour target (issue 26, route a): the 'nucleus_contour' tree and
TypedContourTarget against an independent computation, after the geometric
augmentations, and the hierarchical loss on it."""
import numpy as np
import pytest
import torch
from mmcv.transforms import Compose
from mmseg.registry import TRANSFORMS
from scipy import ndimage
from skimage.segmentation import find_boundaries

import crossspec_mmseg  # noqa: F401  (registers the transforms)
from crossspec_mmseg.datasets.transforms import TypedContourTarget
from crossspec_mmseg.models import HierarchicalFocalDiceLoss
from crossspec_mmseg.structures import (
    NUCLEUS_TREE,
    LabelTree,
    contour_node_map,
    nucleus_label_offset,
    with_boundary,
)

IGNORE = 255


def touching_nuclei(rng, shape=(48, 56), count=14, radius=5.5):
    """Instance ids 1..n: discs around random seeds, cut where they meet (Voronoi),
    so many nuclei touch."""
    seeds = np.zeros(shape, bool)
    seeds[rng.integers(0, shape[0], count), rng.integers(0, shape[1], count)] = True
    distance, (iy, ix) = ndimage.distance_transform_edt(~seeds, return_indices=True)
    ids = ndimage.label(seeds)[0][iy, ix]
    return np.where(distance <= radius, ids, 0)


def boundary_by_windows(ids, width):
    """Nucleus pixels whose (2 width + 1)-square window (clipped to the tile)
    holds another id, by explicit windows."""
    height, breadth = ids.shape
    out = np.zeros(ids.shape, bool)
    for y, x in zip(*np.nonzero(ids)):
        window = ids[max(0, y - width):y + width + 1, max(0, x - width):x + width + 1]
        out[y, x] = (window != ids[y, x]).any()
    return out


def consep_sample(rng, shape=(48, 56)):
    """A CoNSeP-like sample: touching nuclei of types 1..7 (one type shared by
    neighbours), some ignore, labels in the nucleus tree's node ids."""
    ids = touching_nuclei(rng, shape)
    types = np.concatenate([[0], rng.integers(1, 8, ids.max())])
    types[1:4] = 2  # several nuclei of one type
    labels = types[ids].astype(np.uint8)
    labels[rng.random(shape) < 0.03] = IGNORE
    offset = nucleus_label_offset('consep')
    labels = np.where(labels == IGNORE, IGNORE, labels + offset).astype(np.uint8)
    return dict(gt_seg_map=labels, gt_instance_map=ids.astype(np.int32),
                seg_fields=['gt_seg_map', 'gt_instance_map'], img=np.zeros(shape + (3,), np.uint8))


def expected_target(labels, ids, width, dataset):
    """The target as docs/nuclei.md states it, from the contour tree's own offsets."""
    contour = LabelTree.build('nucleus_contour')
    plain_offset = nucleus_label_offset(dataset)
    offset = contour.offsets[dataset]
    boundary = offset + contour.label_sets[dataset].index('boundary')
    valid = labels != IGNORE
    out = np.where(valid, labels.astype(np.int64) - plain_offset + offset, IGNORE)
    out[valid & boundary_by_windows(ids, width)] = boundary
    return out


def test_contour_tree_is_the_nucleus_tree_plus_a_boundary_leaf_and_label():
    plain, contour = LabelTree.build('nucleus'), LabelTree.build('nucleus_contour')
    assert contour.leaves == plain.leaves + ['boundary']
    for name, entries in plain.label_sets.items():
        assert contour.label_sets[name] == entries + ['boundary']
    assert len(NUCLEUS_TREE['leaves']) == 14  # the shipped tree is left as it was
    # every node keeps its name and leaves under the id map
    lut = contour_node_map('nucleus')
    for node in range(plain.num_nodes):
        assert contour.node_names[lut[node]] == plain.node_names[node]
        assert contour.node_leaves[lut[node]] == plain.node_leaves[node]
    assert contour.detection_only.nonzero().ravel().tolist() == [
        int(lut[plain.offsets['consep'] + 1])]  # CoNSeP "other" stays detection-only
    # any tree gets its contour form the same way
    small = dict(leaves=['bg', 'a', 'b'], nodes=dict(ab=['a', 'b']),
                 label_sets=dict(fine=['bg', 'a', 'b'], coarse=['bg', 'ab']))
    assert LabelTree(**with_boundary(small)).offsets == dict(fine=0, coarse=4)
    with pytest.raises(ValueError, match='already has'):
        with_boundary(with_boundary(small))


@pytest.mark.parametrize('width', [1, 2])
def test_target_equals_an_independent_computation(width):
    rng = np.random.default_rng(width)
    sample = consep_sample(rng)
    labels, ids = sample['gt_seg_map'].copy(), sample['gt_instance_map'].copy()
    touching = boundary_by_windows(ids, 1) & ~find_boundaries(ids > 0, connectivity=2,
                                                              mode='inner')
    assert touching.any()  # nuclei that touch each other, not only the background
    out = TypedContourTarget(width=width)(sample)['gt_seg_map']
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, expected_target(labels, ids, width, 'consep'))
    if width == 1:  # skimage's inner boundaries of the instance map are the same pixels
        boundary = LabelTree.build('nucleus_contour').offsets['consep'] + 8
        np.testing.assert_array_equal(
            out == boundary, find_boundaries(ids, connectivity=2, mode='inner')
            & (ids > 0) & (labels != IGNORE))


def test_target_is_computed_on_the_augmented_maps():
    """Crop, flips and transposes first: the target is the independent one of the
    augmented maps (a copy of the input labels rides along as a seg field), so a
    nucleus cut by the crop gets no boundary along the cut."""
    rng = np.random.default_rng(3)
    pipeline = Compose([TRANSFORMS.build(t) for t in (
        dict(type='RandomCrop', crop_size=(32, 40)),
        dict(type='RandomFlip', prob=0.5, direction='horizontal'),
        dict(type='RandomFlip', prob=0.5, direction='vertical'),
        dict(type='RandomRotFlip', rotate_prob=0.0, flip_prob=0.5),
        dict(type='TypedContourTarget', width=1))])
    shapes = set()
    for seed in range(8):
        np.random.seed(seed)
        sample = consep_sample(rng)
        sample['plain'] = sample['gt_seg_map'].copy()
        sample['seg_fields'].append('plain')
        out = pipeline(sample)
        shapes.add(out['gt_seg_map'].shape)
        np.testing.assert_array_equal(
            out['gt_seg_map'], expected_target(out['plain'], out['gt_instance_map'], 1, 'consep'))
    assert shapes == {(32, 40), (40, 32)}  # cropped, and transposed by some draws


def test_target_refuses_mixed_or_unplaced_labels_and_needs_the_instance_map():
    rng = np.random.default_rng(0)
    transform = TypedContourTarget()
    sample = consep_sample(rng)
    sample['gt_seg_map'][0, 0] = 1  # a PanNuke label in a CoNSeP sample
    with pytest.raises(ValueError, match="label sets \\['pannuke', 'consep'\\]"):
        transform(sample)
    sample = consep_sample(rng)
    sample['gt_seg_map'][0, 0] = 40
    with pytest.raises(ValueError, match='label_offset'):
        transform(sample)
    sample = consep_sample(rng)
    del sample['gt_instance_map']
    with pytest.raises(KeyError, match='LoadInstanceMap'):
        transform(sample)
    sample = consep_sample(rng)
    sample['gt_seg_map'][:] = IGNORE  # nothing to place: left as it is
    assert (transform(sample)['gt_seg_map'] == IGNORE).all()


def test_hierarchical_loss_scores_the_target_in_each_sample_label_set():
    """A PanNuke and a CoNSeP sample in one batch: the contour tree's loss takes
    both targets, and moving the boundary's logit up on its pixels lowers it."""
    rng = np.random.default_rng(5)
    targets = []
    for dataset in ('pannuke', 'consep'):
        sample = consep_sample(rng, (24, 24))
        labels = sample['gt_seg_map']
        if dataset == 'pannuke':
            own = np.where(labels == IGNORE, IGNORE, (labels.astype(int) - 6) % 6)
            sample['gt_seg_map'] = own.astype(np.uint8)
        targets.append(TypedContourTarget()(sample)['gt_seg_map'])
    target = torch.as_tensor(np.stack(targets)).long()
    loss = HierarchicalFocalDiceLoss(label_tree='nucleus_contour', gamma=0.0,
                                     region=dict(type='tversky'))
    logits = torch.zeros(2, 15, 24, 24)
    base = loss(logits, target)
    boundary = (target == 6) | (target == 15)
    logits[:, 14][boundary] = 3.0
    assert torch.isfinite(base) and loss(logits, target) < base
