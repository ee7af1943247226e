"""Loss values against independent NumPy (float64) computations, and their guarantees."""
import numpy as np
import pytest
import torch
from mmseg.registry import MODELS

import crossspec_mmseg  # noqa: F401
from crossspec_mmseg.models import CEDiceLoss, FocalDiceLoss, HierarchicalFocalDiceLoss, LabelTree

TREE = dict(leaves=['background', 'cortex', 'outer_stripe', 'inner_stripe', 'inner_medulla'],
            nodes=dict(medulla=['outer_stripe', 'inner_stripe', 'inner_medulla']),
            label_sets=dict(mouse=['background', 'cortex', 'outer_stripe', 'inner_stripe',
                                   'inner_medulla'],
                            human=['background', 'cortex', 'medulla']))


def reference(logits, labels, gamma, class_w, pixel_w, groups=None, smooth=1.0,
              ignore=255, dice_classes=None):
    """Independent float64 NumPy: focal and Dice terms as documented.

    groups: per sample, list of leaf-index lists (its label set's nodes).
    """
    x = logits.astype(np.float64)
    p = np.exp(x - x.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    n, c = x.shape[:2]
    groups = groups or [[[k] for k in range(c)]] * n
    focal_sum, n_valid, dice_total = 0.0, 0, 0.0
    for i in range(n):
        nodes = np.stack([p[i, g].sum(0) for g in groups[i]])  # (K, H, W)
        valid = labels[i] != ignore
        t = np.where(valid, labels[i], 0)
        pt = np.take_along_axis(nodes, t[None], 0)[0]
        fl = -((1 - pt) ** gamma) * np.log(pt)
        node_w = np.array([np.mean(np.asarray(class_w)[g]) for g in groups[i]])
        w = node_w[t] * pixel_w[i]
        focal_sum += (fl * w)[valid].sum()
        n_valid += valid.sum()
        ks = dice_classes if dice_classes is not None else range(len(groups[i]))
        num = den = 0.0
        for k in ks:
            pk, gk = nodes[k][valid], (t == k)[valid]
            d = (2 * (pk * gk).sum() + smooth) / (pk.sum() + gk.sum() + smooth)
            num += node_w[k] * (1 - d)
            den += node_w[k]
        sample_w = pixel_w[i][valid].mean() if valid.any() else 0.0
        dice_total += sample_w * num / den
    return focal_sum / max(n_valid, 1), dice_total / n


@pytest.fixture
def batch():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 2, (3, 4, 6, 7)).astype(np.float32)
    labels = rng.integers(0, 4, (3, 6, 7))
    labels[rng.random(labels.shape) < 0.2] = 255
    species_w = np.array([2.5, 1.0, 1.0])[:, None, None] * np.ones((3, 6, 7))
    return logits, labels, species_w


@pytest.mark.parametrize('gamma', [0.0, 2.0, 3.5])
def test_focal_dice_against_numpy(batch, gamma):
    logits, labels, pixel_w = batch
    class_w = [1.0, 1.25, 2.0, 0.5]
    loss = FocalDiceLoss(gamma=gamma, class_weight=class_w)
    parts = loss.components(torch.tensor(logits), torch.tensor(labels),
                            weight=torch.tensor(pixel_w, dtype=torch.float32))
    focal, dice = reference(logits, labels, gamma, class_w, pixel_w)
    assert parts['pixel'].item() == pytest.approx(focal, rel=1e-5)
    assert parts['dice'].item() == pytest.approx(dice, rel=1e-5)


def test_gamma_zero_is_weighted_cross_entropy(batch):
    logits, labels, _ = batch
    class_w = torch.tensor([1.0, 1.25, 2.0, 0.5])
    focal = FocalDiceLoss(gamma=0, class_weight=class_w.tolist(), lambda_dice=0, lambda_focal=1)
    ce = torch.nn.functional.cross_entropy(torch.tensor(logits), torch.tensor(labels),
                                           weight=class_w, ignore_index=255, reduction='sum')
    expected = ce / (torch.tensor(labels) != 255).sum()
    assert focal(torch.tensor(logits), torch.tensor(labels)).item() == pytest.approx(
        expected.item(), rel=1e-5)
    ce_dice = CEDiceLoss(lambda_ce=1, lambda_dice=0, class_weight=class_w.tolist())
    assert ce_dice(torch.tensor(logits), torch.tensor(labels)).item() == pytest.approx(
        expected.item(), rel=1e-5)


@pytest.mark.parametrize('cls, kwargs, lambdas', [
    (FocalDiceLoss, dict(lambda_focal=0.75, lambda_dice=1.0), (0.75, 1.0)),
    (CEDiceLoss, dict(), (0.5, 0.75)),
    (HierarchicalFocalDiceLoss, dict(label_tree=TREE, lambda_focal=0.3, lambda_dice=2.0),
     (0.3, 2.0)),
])
def test_combined_equals_weighted_sum_of_parts(cls, kwargs, lambdas):
    logits = torch.randn(2, 5 if cls is HierarchicalFocalDiceLoss else 4, 5, 5)
    labels = torch.randint(0, 4, (2, 5, 5))
    loss = cls(**kwargs)
    parts = loss.components(logits, labels)
    assert loss(logits, labels).item() == pytest.approx(
        lambdas[0] * parts['pixel'].item() + lambdas[1] * parts['dice'].item(), rel=1e-6)


@pytest.mark.parametrize('cls', [FocalDiceLoss, CEDiceLoss])
def test_all_ignored_batch_is_zero_with_zero_gradient(cls):
    logits = torch.randn(2, 3, 4, 4, requires_grad=True)
    loss = cls(class_weight=[1, 2, 3])(logits, torch.full((2, 4, 4), 255),
                                       weight=torch.full((2, 4, 4), 2.5))
    loss.backward()
    assert loss.item() == 0 and torch.isfinite(logits.grad).all() and not logits.grad.any()


def test_gradients_finite_with_extreme_logits():
    logits = (torch.randn(2, 3, 8, 8) * 80).requires_grad_()
    FocalDiceLoss()(logits, torch.randint(0, 3, (2, 8, 8))).backward()
    assert torch.isfinite(logits.grad).all()


@pytest.mark.parametrize('gamma', [0.0, 0.5, 1.0, 2.0])
@pytest.mark.parametrize('scale', [30.0, 1e4])
def test_saturated_logits_give_finite_gradients_for_any_gamma(gamma, scale):
    """(1 - p)^gamma has an infinite slope at p = 1 when gamma < 1; AMP's grad
    scaler would skip every step on the resulting inf/nan."""
    labels = torch.randint(0, 3, (2, 8, 8))
    logits = torch.nn.functional.one_hot(labels, 3).permute(0, 3, 1, 2).float() * scale
    logits[0, :, 0] *= -1  # some pixels saturated wrong, most saturated right
    logits.requires_grad_()
    loss = FocalDiceLoss(gamma=gamma)(logits, labels)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()
    assert logits.grad.abs().sum() > 0


def kidney_layer_batch():
    """A mouse sample labelled at leaf level and a human one at coarse level
    (medulla = 3 leaves), whose medulla leaves are unlikely: small group
    probabilities, where fp16 clamps."""
    torch.manual_seed(0)
    logits = torch.randn(2, 5, 16, 16) * 2
    logits[1, 2:] -= 9
    offset = LabelTree(**TREE).offset_of('human')
    labels = torch.stack([torch.randint(0, 5, (16, 16)),
                          torch.randint(0, 3, (16, 16)) + offset])
    return logits, labels


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_hierarchy_loss_is_float32_under_autocast(dtype):
    """Logits from a half-precision head, loss inside autocast: loss and gradient
    within 1e-3 of the float32 computation on the same logits."""
    logits, labels = kidney_layer_batch()
    loss_fn = HierarchicalFocalDiceLoss(label_tree=TREE, class_weight=[1, 1.25, 2, 2, 2])
    half = logits.to(dtype).requires_grad_()
    with torch.autocast('cpu', dtype=dtype):
        amp_loss = loss_fn(half, labels)
    amp_loss.backward()
    full = half.detach().float().requires_grad_()
    ref_loss = loss_fn(full, labels)
    ref_loss.backward()
    assert amp_loss.dtype == torch.float32
    assert abs(amp_loss.item() - ref_loss.item()) < 1e-3 * abs(ref_loss.item())
    expected = full.grad.to(dtype).float()  # the same rounding to the logits' dtype
    grad_err = (half.grad.float() - expected).norm() / expected.norm()
    assert grad_err < 1e-3
    assert (half.grad[1, 2:].float().abs().sum((1, 2)) > 0).all()  # every medulla leaf learns


def test_sigmoid_mode_matches_binary_focal_and_foreground_dice():
    x = torch.randn(2, 1, 5, 5)
    y = torch.randint(0, 2, (2, 5, 5))
    y[0, 0] = 255
    parts = FocalDiceLoss(use_sigmoid=True, gamma=2).components(x, y)
    logits2 = torch.cat([torch.zeros_like(x), x], 1).numpy()
    focal, dice = reference(logits2, y.numpy(), 2.0, [1, 1], np.ones((2, 5, 5)),
                            dice_classes=[1])
    assert parts['pixel'].item() == pytest.approx(focal, rel=1e-5)
    assert parts['dice'].item() == pytest.approx(dice, rel=1e-5)


def test_hierarchy_equals_plain_loss_at_leaf_level():
    logits = torch.randn(3, 5, 6, 6)
    labels = torch.randint(0, 5, (3, 6, 6))
    labels[0, :2] = 255
    class_w = [1, 1.25, 2, 2, 2]
    hier = HierarchicalFocalDiceLoss(label_tree=TREE, class_weight=class_w)
    plain = FocalDiceLoss(class_weight=class_w)
    assert hier(logits, labels).item() == pytest.approx(plain(logits, labels).item(), rel=1e-6)


def test_coarse_labels_use_summed_leaf_probabilities():
    rng = np.random.default_rng(3)
    logits = rng.normal(0, 1.5, (2, 5, 6, 6)).astype(np.float32)
    mouse = rng.integers(0, 5, (6, 6))
    human = rng.integers(0, 3, (6, 6))
    human[0] = 255
    offset = LabelTree(**TREE).offset_of('human')
    labels = np.stack([mouse, np.where(human == 255, 255, human + offset)])
    class_w = [1.0, 1.25, 2.0, 2.0, 2.0]
    loss = HierarchicalFocalDiceLoss(label_tree=TREE, class_weight=class_w, gamma=2.0)
    parts = loss.components(torch.tensor(logits), torch.tensor(labels))
    groups = [[[0], [1], [2], [3], [4]], [[0], [1], [2, 3, 4]]]
    ref_labels = np.stack([mouse, human])
    focal, dice = reference(logits, ref_labels, 2.0, class_w, np.ones((2, 6, 6)), groups=groups)
    assert parts['pixel'].item() == pytest.approx(focal, rel=1e-5)
    assert parts['dice'].item() == pytest.approx(dice, rel=1e-5)
    # The gradient reaches every medulla leaf of the human sample.
    x = torch.tensor(logits, requires_grad=True)
    loss(x, torch.tensor(labels)).backward()
    assert (x.grad[1, 2:].abs().sum((1, 2)) > 0).all()


@pytest.mark.parametrize('tree, message', [
    (dict(leaves=['a', 'a']), 'leaves must be distinct'),
    (dict(leaves=['a', 'b'], nodes=dict(g=['a', 'x'])),
     r"node 'g' has unknown or no children \['x'\]"),
    (dict(leaves=['a', 'b', 'c'], nodes=dict(g=['b', 'c']), label_sets=dict(s=['a', 'g', 'c'])),
     r"label set 's': 'c' overlaps 'g' \(leaf 'c'\)"),
    (dict(leaves=['a', 'b'], label_sets=dict(s=['a'])), r"missing \['b'\]"),
    (dict(leaves=['a', 'b'], label_sets=dict(s=['a', 'zz'])), "'zz' is neither a leaf"),
])
def test_tree_validation(tree, message):
    with pytest.raises(ValueError, match=message):
        HierarchicalFocalDiceLoss(label_tree=tree)


def test_labels_out_of_range_are_an_error():
    with pytest.raises(ValueError, match=r'labels \[7\] out of range for 3'):
        FocalDiceLoss()(torch.randn(1, 3, 2, 2), torch.tensor([[[0, 7], [1, 255]]]))


@pytest.mark.parametrize('cfg', [
    dict(type='FocalDiceLoss', class_weight=[1, 2]),
    dict(type='CEDiceLoss'),
    dict(type='HierarchicalFocalDiceLoss', label_tree=TREE),
    dict(type='FocalDiceLoss', region=dict(type='tversky', alpha=0.3, beta=0.7, gamma=0.75)),
])
def test_build_from_registry(cfg):
    loss = MODELS.build(cfg)
    assert loss.loss_name.startswith('loss_')


def tversky_reference(logits, labels, alpha, beta, gamma, class_w, pixel_w, groups=None,
                      smooth=1.0, ignore=255):
    """Float64 NumPy focal Tversky: T = (TP + s/2) / (TP + a FP + b FN + s/2) per
    sample and node, (1 - T)^gamma averaged with class weights, then over the
    batch with the sample's mean pixel weight."""
    x = logits.astype(np.float64)
    p = np.exp(x - x.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    n, c = x.shape[:2]
    groups = groups or [[[k] for k in range(c)]] * n
    total = 0.0
    for i in range(n):
        nodes = np.stack([p[i, g].sum(0) for g in groups[i]])
        valid = labels[i] != ignore
        num = den = 0.0
        for k, g in enumerate(groups[i]):
            pk, gk = nodes[k][valid], (labels[i] == k)[valid]
            tp, fp, fn = (pk * gk).sum(), (pk * ~gk).sum(), ((1 - pk) * gk).sum()
            t = (tp + smooth / 2) / (tp + alpha * fp + beta * fn + smooth / 2)
            w = np.mean(np.asarray(class_w)[g])
            num += w * (1 - t) ** gamma
            den += w
        total += (pixel_w[i][valid].mean() if valid.any() else 0.0) * num / den
    return total / n


def test_tversky_at_one_half_and_gamma_one_is_the_dice_term_exactly(batch):
    logits, labels, pixel_w = batch
    args = (torch.tensor(logits), torch.tensor(labels))
    weight = torch.tensor(pixel_w, dtype=torch.float32)
    class_w = [1.0, 1.25, 2.0, 0.5]
    dice = FocalDiceLoss(class_weight=class_w)
    tversky = FocalDiceLoss(class_weight=class_w,
                            region=dict(type='tversky', alpha=0.5, beta=0.5, gamma=1.0))
    assert torch.equal(tversky.components(*args, weight=weight)['tversky'],
                       dice.components(*args, weight=weight)['dice'])
    assert torch.equal(tversky(*args, weight=weight), dice(*args, weight=weight))


@pytest.mark.parametrize('alpha, beta, gamma', [(0.3, 0.7, 0.75), (0.7, 0.3, 2.0),
                                                (1.0, 0.0, 1.0)])
def test_focal_tversky_against_numpy(batch, alpha, beta, gamma):
    logits, labels, pixel_w = batch
    class_w = [1.0, 1.25, 2.0, 0.5]
    loss = CEDiceLoss(class_weight=class_w,
                      region=dict(type='tversky', alpha=alpha, beta=beta, gamma=gamma))
    parts = loss.components(torch.tensor(logits), torch.tensor(labels),
                            weight=torch.tensor(pixel_w, dtype=torch.float32))
    expected = tversky_reference(logits, labels, alpha, beta, gamma, class_w, pixel_w)
    assert parts['tversky'].item() == pytest.approx(expected, rel=1e-5)


def test_hierarchical_tversky_sums_leaf_probabilities():
    rng = np.random.default_rng(5)
    logits = rng.normal(0, 1.5, (2, 5, 6, 6)).astype(np.float32)
    mouse, human = rng.integers(0, 5, (6, 6)), rng.integers(0, 3, (6, 6))
    human[0] = 255
    offset = LabelTree(**TREE).offset_of('human')
    labels = np.stack([mouse, np.where(human == 255, 255, human + offset)])
    class_w = [1.0, 1.25, 2.0, 2.0, 2.0]
    region = dict(type='tversky', alpha=0.3, beta=0.7, gamma=0.75)
    loss = HierarchicalFocalDiceLoss(label_tree=TREE, class_weight=class_w, region=region)
    x = torch.tensor(logits, requires_grad=True)
    parts = loss.components(x, torch.tensor(labels))
    expected = tversky_reference(logits, np.stack([mouse, human]), 0.3, 0.7, 0.75, class_w,
                                 np.ones((2, 6, 6)),
                                 groups=[[[0], [1], [2], [3], [4]], [[0], [1], [2, 3, 4]]])
    assert parts['tversky'].item() == pytest.approx(expected, rel=1e-5)
    loss(x, torch.tensor(labels)).backward()
    assert torch.isfinite(x.grad).all() and (x.grad[1, 2:].abs().sum((1, 2)) > 0).all()


def test_focal_tversky_gradient_finite_on_a_perfect_prediction():
    labels = torch.randint(0, 3, (2, 8, 8))
    logits = (torch.nn.functional.one_hot(labels, 3).permute(0, 3, 1, 2).float() * 1e4)
    logits.requires_grad_()
    FocalDiceLoss(region=dict(type='tversky', gamma=0.5), smooth=0.0)(logits, labels).backward()
    assert torch.isfinite(logits.grad).all()


@pytest.mark.parametrize('region, message', [
    (dict(type='jaccard'), "type='jaccard'"),
    (dict(type='tversky', delta=1), r"unknown Tversky options \['delta'\]"),
    (dict(type='tversky', alpha=0, beta=0), 'alpha \\+ beta > 0'),
    (dict(type='tversky', gamma=0), 'gamma > 0'),
])
def test_region_validation(region, message):
    with pytest.raises(ValueError, match=message):
        FocalDiceLoss(region=region)
