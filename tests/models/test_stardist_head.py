"""StarDistHead: its outputs over ResNet- and U-Net-like pyramids, the losses
against hand computation (BCE on the probability, L1 masked and weighted by
the probability target, the (1, 0.2, 1) weights), species weights through the
pixel sampler, and the errors that name their fix."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample
from tiny_stardist import LEAVES, tiny_head, tiny_model

from crossspec_mmseg.models.heads.stardist_head import star_losses


def test_outputs_over_resnet_and_unet_pyramids():
    torch.manual_seed(0)
    head = tiny_head()  # levels at strides 4, 8, 16, then one x2: stride 2
    feats = [torch.randn(2, 4, 16, 16), torch.randn(2, 6, 8, 8), torch.randn(2, 8, 4, 4)]
    prob, dist, leaves = head(feats)
    assert prob.shape == (2, 1, 32, 32) and dist.shape == (2, 8, 32, 32)
    assert leaves.shape == (2, LEAVES, 32, 32) and head.num_outputs == 1 + 8 + LEAVES
    stacked = head.predict(feats, [dict(img_shape=(64, 64), pad_shape=(64, 64))], None)
    assert stacked.shape == (2, 1 + 8 + LEAVES, 64, 64)
    # A U-Net backbone's outputs come coarsest first: reversed in_index, no extra upsampling.
    unet = tiny_head(in_channels=[4, 6, 8], in_index=[2, 1, 0], extra_upsamples=0,
                     decoder_channels=(8, 8))
    prob, _, _ = unet([torch.randn(1, 8, 4, 4), torch.randn(1, 6, 8, 8),
                       torch.randn(1, 4, 16, 16)])
    assert prob.shape == (1, 1, 16, 16)


def test_configuration_errors_name_their_fix():
    with pytest.raises(ValueError, match='decoder_channels needs 2'):
        tiny_head(decoder_channels=(8, 8))
    with pytest.raises(ValueError, match='label tree has 14 leaves'):
        tiny_head(num_classes=5)
    with pytest.raises(ValueError, match='even number'):
        tiny_head(n_rays=7)
    head = tiny_head()
    with pytest.raises(TypeError, match="model.type='StarDistSegmentor'"):
        head.loss([torch.randn(1, 4, 8, 8), torch.randn(1, 6, 4, 4), torch.randn(1, 8, 2, 2)],
                  [], None)


def reference_star_losses(logit, dist, prob_t, dist_t, weight, reg):
    """Element by element, float64: StarDist's BCE over valid pixels and its
    masked MAE (mask = probability target, normalised by its sum) plus
    ``reg`` x the background's mean absolute distance."""
    bce = dist_term = mask_sum = reg_term = 0.0
    valid = 0
    n, r, h, w = dist.shape
    for i in range(n):
        for y in range(h):
            for x in range(w):
                t = float(prob_t[i, y, x])
                if t < 0:
                    continue
                valid += 1
                p = 1 / (1 + np.exp(-float(logit[i, y, x])))
                wt = float(weight[i, y, x])
                bce += wt * -(t * np.log(p) + (1 - t) * np.log(1 - p))
                l1 = sum(abs(float(dist[i, k, y, x]) - float(dist_t[i, k, y, x]))
                         for k in range(r)) / r
                dist_term += wt * t * l1
                mask_sum += t
                reg_term += wt * (1 - t) * sum(abs(float(dist[i, k, y, x]))
                                               for k in range(r)) / r
    return bce / valid, dist_term / mask_sum + reg * reg_term / valid


def test_probability_and_masked_distance_losses_by_hand():
    g = torch.Generator().manual_seed(1)
    logit = torch.randn(2, 3, 4, generator=g)
    dist = torch.rand(2, 5, 3, 4, generator=g) * 6
    dist_t = torch.rand(2, 5, 3, 4, generator=g) * 6
    prob_t = torch.rand(2, 3, 4, generator=g)
    prob_t[prob_t < 0.3] = 0  # background
    prob_t[0, 0, :2] = -1     # ignored (padding)
    weight = torch.tensor([2.0, 0.5]).view(2, 1, 1).expand(2, 3, 4)
    for reg in (0.0, 1e-2):
        ours = star_losses(logit, dist, prob_t, dist_t, weight, background_reg=reg)
        prob_ref, dist_ref = reference_star_losses(logit, dist, prob_t, dist_t, weight, reg)
        assert ours['prob'].item() == pytest.approx(prob_ref, rel=1e-5)
        assert ours['dist'].item() == pytest.approx(dist_ref, rel=1e-5)
    # The distance term sees object pixels only: background distances change nothing
    # (without the regulariser), an object pixel's do.
    background = (prob_t <= 0).unsqueeze(1).expand_as(dist)
    base = star_losses(logit, dist, prob_t, dist_t, None, 0.0)['dist']
    assert torch.equal(star_losses(logit, dist + 100 * background, prob_t, dist_t, None,
                                   0.0)['dist'], base)
    assert star_losses(logit, dist + 100 * ~background, prob_t, dist_t, None,
                       0.0)['dist'] > base + 50


def batch(n_rays=8, size=(16, 16), species=('human', 'mouse')):
    g = torch.Generator().manual_seed(2)
    samples = []
    for name in species:
        s = SegDataSample(metainfo=dict(species=name, img_shape=size, pad_shape=size,
                                        ori_shape=size))
        labels = torch.randint(0, 6, (1, *size), generator=g)
        labels[0, 0, :3] = 255
        s.gt_sem_seg = PixelData(data=labels)
        s.gt_star_prob = PixelData(data=torch.rand(1, *size, generator=g))
        s.gt_star_dist = PixelData(data=torch.rand(n_rays, *size, generator=g) * 5)
        samples.append(s)
    return samples


def test_loss_weights_are_the_seeds_and_species_weights_reach_every_term():
    """decode.loss_prob = 1 x BCE, decode.loss_dist = 0.2 x masked L1, the class loss
    1 x HierarchicalFocalDiceLoss, all with each sample's species weight per pixel."""
    from crossspec_mmseg.models.segmentors.stardist_segmentor import pack_star_targets
    torch.manual_seed(0)
    model = tiny_model(sample_weight=dict(human=2.0, mouse=0.5))
    assert model.decode_head.loss_weights == (1.0, 0.2, 1.0)
    samples = batch()
    inputs = torch.rand(2, 3, 16, 16)
    losses = model.loss(inputs, samples)
    assert set(losses) == {'decode.loss_prob', 'decode.loss_dist', 'decode.loss_hierarchical'}

    head = model.decode_head
    prob, dist, leaves = (F.interpolate(o, size=(16, 16), mode='bilinear', align_corners=False)
                          for o in head(model.extract_feat(inputs)))
    weight = torch.tensor([2.0, 0.5]).view(2, 1, 1).expand(2, 16, 16)
    targets = pack_star_targets(samples, (16, 16))
    star = star_losses(prob[:, 0], dist, targets['prob'], targets['dist'], weight, 1e-4)
    labels = torch.stack([s.gt_sem_seg.data[0] for s in samples])
    cls = head.loss_decode(leaves, labels, weight=weight, ignore_index=255)
    torch.testing.assert_close(losses['decode.loss_prob'], 1.0 * star['prob'])
    torch.testing.assert_close(losses['decode.loss_dist'], 0.2 * star['dist'])
    torch.testing.assert_close(losses['decode.loss_hierarchical'], 1.0 * cls)
    unweighted = star_losses(prob[:, 0], dist, targets['prob'], targets['dist'], None, 1e-4)
    assert not torch.isclose(unweighted['prob'], star['prob'])


def test_targets_are_padded_like_the_images():
    """A sample smaller than the batch: its targets are padded at the right and
    bottom (probability -1: ignored; distances 0), as stack_batch pads images."""
    from crossspec_mmseg.models.segmentors.stardist_segmentor import pack_star_targets
    small, big = batch(size=(10, 12), species=('human',)), batch(size=(16, 16),
                                                                 species=('human',))
    packed = pack_star_targets(small + big, (16, 16))
    assert packed['prob'].shape == (2, 16, 16) and packed['dist'].shape == (2, 8, 16, 16)
    assert torch.equal(packed['prob'][0, :10, :12], small[0].gt_star_prob.data[0])
    assert (packed['prob'][0, 10:] == -1).all() and (packed['prob'][0, :, 12:] == -1).all()
    assert (packed['dist'][0, :, 10:] == 0).all()
    data = dict(inputs=[torch.zeros(3, 10, 12, dtype=torch.uint8),
                        torch.zeros(3, 16, 16, dtype=torch.uint8)], data_samples=small + big)
    model = tiny_model()
    stacked = model.data_preprocessor(data, True)
    losses = model.loss(stacked['inputs'], stacked['data_samples'])
    assert all(torch.isfinite(v) for v in losses.values())
    del small[0].gt_star_prob
    with pytest.raises(KeyError, match='StarDistTargets'):
        pack_star_targets(small, (16, 16))
