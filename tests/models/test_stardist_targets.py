"""StarDist targets and ray geometry: the transform's targets equal stardist's
own functions and hand-computed distances on known instance maps, are
computed after the geometric augmentations, and are packed; the ray
permutation of a flip equals star_dist of the flipped map; resizes rescale
rays (anisotropically too); the segmentor undoes flips and resizes."""
import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope
from mmseg.registry import TRANSFORMS
from stardist import edt_prob, star_dist

from crossspec_mmseg.datasets.transforms.star_targets import star_targets
from crossspec_mmseg.demo.downloads.pannuke import draw_nuclei
from crossspec_mmseg.models.segmentors.stardist_segmentor import (
    ray_angles,
    ray_flip_permutation,
    rescale_rays,
)


def shapes(shape=(48, 56), seed=0):
    """Discs (draw_nuclei), touching ones and a non-convex L, with ids past 255."""
    ids = draw_nuclei(np.random.default_rng(seed), shape, 8, radius=(3, 8), gap=0) * 37
    ids[30:40, 5:25] = 9000
    ids[30:46, 5:10] = 9000            # an L
    ids[2:8, 40:50], ids[8:14, 40:50] = 7001, 7002  # two rectangles touching
    return ids


def test_targets_equal_stardists_functions_and_hand_distances():
    ids = shapes()
    prob, dist = star_targets(ids, 32)
    assert prob.dtype == dist.dtype == np.float32 and dist.shape == (*ids.shape, 32)
    np.testing.assert_array_equal(prob, edt_prob(ids.astype(np.uint16)))
    np.testing.assert_array_equal(dist, star_dist(ids.astype(np.uint16), 32))
    # By hand, in a rectangle rows 2..7, cols 40..49 touching another below: from
    # (4, 43) ray 0 (+col) ends at the pixel edge 49.5, ray 8 (+row) at 7.5, ray 16
    # (-col) at 39.5, ray 24 (-row) at 1.5 (stardist's rays: (row, col) = (sin, cos)).
    np.testing.assert_allclose(dist[4, 43, [0, 8, 16, 24]], [6.5, 3.5, 3.5, 2.5], atol=1e-5)
    assert prob[ids == 0].max() == 0 and prob[ids > 0].min() > 0
    for i in np.unique(ids)[1:]:
        assert prob[ids == i].max() == pytest.approx(1.0, abs=1e-6)  # normalised per nucleus
    assert (dist[ids == 0] == 0).all()


def test_ids_beyond_uint16_are_renumbered_not_wrapped():
    ids = np.zeros((20, 20), np.int64)
    ids[2:8, 2:8], ids[10:16, 10:16] = 70000, 65536 + 70000  # uint16 would wrap both to 4464
    prob, dist = star_targets(ids, 16)
    expected = star_dist(np.where(ids == 70000, 1, np.where(ids > 0, 2, 0)).astype(np.uint16),
                         16)
    np.testing.assert_array_equal(dist, expected)
    with pytest.raises(ValueError, match='>= 0'):
        star_targets(-ids, 16)


@pytest.mark.parametrize('n_rays', [32, 64])
def test_ray_permutation_under_flips_equals_star_dist_of_the_flipped_map(n_rays):
    ids = shapes().astype(np.uint16)
    dist = star_dist(ids, n_rays)
    for direction, axis in (('horizontal', 1), ('vertical', 0)):
        perm = ray_flip_permutation(n_rays, direction)
        flipped = star_dist(np.ascontiguousarray(np.flip(ids, axis)), n_rays)
        np.testing.assert_allclose(np.flip(dist, axis)[..., perm], flipped, atol=1e-4)
        assert (perm[perm] == np.arange(n_rays)).all()  # an involution
    # the angles as documented: horizontal theta -> pi - theta, vertical theta -> -theta
    theta = ray_angles(n_rays)
    np.testing.assert_allclose(np.exp(1j * theta[ray_flip_permutation(n_rays, 'horizontal')]),
                               np.exp(1j * (np.pi - theta)), atol=1e-12)
    np.testing.assert_allclose(np.exp(1j * theta[ray_flip_permutation(n_rays, 'vertical')]),
                               np.exp(-1j * theta), atol=1e-12)
    with pytest.raises(ValueError, match='even'):
        ray_flip_permutation(31, 'vertical')


def test_resizes_rescale_rays():
    """Isotropic: every ray times the scale. Anisotropic: a disc of radius r
    becomes an ellipse with semi-axes (sx r, sy r); at its centre the rescaled
    rays are the ellipse's radii (to the 32-ray interpolation)."""
    dist = torch.rand(32, 3, 4) * 10
    torch.testing.assert_close(rescale_rays(dist, 1.5, 1.5), dist * 1.5)
    r, sx, sy = 10.0, 1.0, 0.5
    rescaled = rescale_rays(torch.full((32, 1, 1), r), sy, sx)[:, 0, 0].numpy()
    theta = ray_angles(32)
    ellipse = 1 / np.sqrt((np.cos(theta) / (sx * r)) ** 2 + (np.sin(theta) / (sy * r)) ** 2)
    np.testing.assert_allclose(rescaled, ellipse, rtol=1e-6)
    # and against star_dist of a real resized disc, at its centre (pixels: ~1 px)
    yy, xx = np.mgrid[:64, :64]
    disc = (((yy - 32) ** 2 + (xx - 32) ** 2) <= 20 ** 2).astype(np.uint16)
    small = disc[::2, :]  # rows halved: (sy, sx) = (0.5, 1)
    d = torch.from_numpy(star_dist(disc, 32)[32, 32]).view(32, 1, 1)
    truth = star_dist(np.ascontiguousarray(small), 32)[16, 32]
    assert np.abs(rescale_rays(d, 0.5, 1.0)[:, 0, 0].numpy() - truth).max() < 1.5


def pipeline(*steps):
    init_default_scope('mmseg')
    return [TRANSFORMS.build(step) for step in steps]


def run(steps, results):
    for step in steps:
        results = step(results)
    return results


def test_targets_follow_the_augmentation_and_are_packed():
    """After a flip the targets are those of the flipped map (computed after it);
    the ignore rule; packing to (1, H, W) and (R, H, W); a geometric transform
    after the targets is refused at packing."""
    ids = shapes().astype(np.int32)
    seg = np.where(ids > 0, 1, 0).astype(np.uint8)
    seg[0:2, :] = 255                    # ignored, no nucleus there
    seg[ids == 37] = 255                 # a nucleus whose type is ignored
    results = dict(img=np.zeros((*ids.shape, 3), np.uint8), gt_instance_map=ids.copy(),
                   gt_seg_map=seg.copy(), seg_fields=['gt_seg_map', 'gt_instance_map'],
                   img_shape=ids.shape, ori_shape=ids.shape, img_path='a.png')
    steps = pipeline(dict(type='RandomFlip', prob=1.0, direction='horizontal'),
                     dict(type='StarDistTargets', n_rays=32),
                     dict(type='PackStarDistInputs', meta_keys=('img_path', 'flip')))
    packed = run(steps, dict(results))
    sample = packed['data_samples']
    flipped = np.ascontiguousarray(ids[:, ::-1])
    prob, dist = star_targets(flipped, 32)
    prob[(seg[:, ::-1] == 255) & (flipped == 0)] = -1
    np.testing.assert_array_equal(sample.gt_star_prob.data[0].numpy(), prob)
    np.testing.assert_array_equal(sample.gt_star_dist.data.numpy(), dist.transpose(2, 0, 1))
    assert (sample.gt_star_prob.data[0, 0:2] == -1).all()
    assert (sample.gt_star_prob.data[0][torch.from_numpy(flipped == 37)] > 0).all()
    assert sample.gt_instance_map.data.shape == (1, *ids.shape)
    late_crop = pipeline(dict(type='StarDistTargets', n_rays=32),
                         dict(type='RandomCrop', crop_size=(20, 20)),
                         dict(type='PackStarDistInputs'))
    with pytest.raises(ValueError, match='after every geometric transform'):
        run(late_crop, dict(results))
    with pytest.raises(KeyError, match='LoadInstanceMap'):
        run(pipeline(dict(type='StarDistTargets')), dict(img=results['img']))


def test_the_segmentor_undoes_flips_and_resizes_on_the_rays():
    """Maps predicted on a flipped (or half-size, padded) view come back in the
    original frame: prob/classes flipped back, rays permuted, distances scaled."""
    from mmseg.structures import SegDataSample
    from tiny_stardist import LEAVES, tiny_model
    n_rays = 32
    model = tiny_model(n_rays=n_rays, test_cfg=dict(keep_star_dist=True))
    ids = shapes().astype(np.uint16)
    h, w = ids.shape
    prob, dist = star_targets(ids, n_rays)
    leaves = torch.randn(LEAVES, h, w)

    def stacked(p, d, c):
        logit = torch.logit(torch.from_numpy(p).clamp(1e-4, 1 - 1e-4))
        return torch.cat([logit[None], torch.from_numpy(d).permute(2, 0, 1), c])[None]

    for direction, axis in (('horizontal', 1), ('vertical', 0)):
        fp, fd = star_targets(np.ascontiguousarray(np.flip(ids, axis)), n_rays)
        view = stacked(fp, fd, leaves.flip(axis + 1))
        meta = dict(ori_shape=(h, w), img_shape=(h, w), flip=True, flip_direction=direction)
        out = model.postprocess_result(view, [SegDataSample(metainfo=meta)])[0]
        np.testing.assert_allclose(out.pred_star_dist.data.permute(1, 2, 0).numpy(), dist,
                                   atol=1e-4)
        np.testing.assert_allclose(out.pred_star_prob.data[0].numpy(),
                                   np.clip(prob, 1e-4, 1 - 1e-4), atol=1e-5)
        torch.testing.assert_close(out.seg_logits.data, leaves)
    # a half-size view (distances in its own, half-size pixels) padded by 4 rows:
    # padding removed, maps resized, rays x2
    half = stacked(prob[::2, ::2], dist[::2, ::2] / 2, leaves[:, ::2, ::2])
    meta = dict(ori_shape=(h, w), img_shape=(h // 2, w // 2), padding_size=[0, 0, 0, 4])
    out = model.postprocess_result(torch.nn.functional.pad(half, (0, 0, 0, 4)),
                                   [SegDataSample(metainfo=meta)])[0]
    resized = torch.nn.functional.interpolate(half, size=(h, w), mode='bilinear',
                                              align_corners=False)[0]
    torch.testing.assert_close(out.pred_star_dist.data, 2 * resized[1:1 + n_rays])
    torch.testing.assert_close(out.seg_logits.data, resized[1 + n_rays:])
    # ... which, inside the nuclei, are the full-size distances to about a pixel
    inside = torch.from_numpy(prob > 0.5)
    error = (out.pred_star_dist.data - torch.from_numpy(dist).permute(2, 0, 1))[:, inside]
    assert error.abs().median() <= 0.5
