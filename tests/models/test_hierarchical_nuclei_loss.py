"""HierarchicalFocalDiceLoss on the nucleus tree: one batch mixing PanNuke, CoNSeP and
MoNuSAC samples, each scored in its own label set, against float64 NumPy."""
import numpy as np
import pytest
import torch
from mmseg.registry import MODELS

import crossspec_mmseg  # noqa: F401
from crossspec_mmseg.models import CEDiceLoss, FocalDiceLoss, HierarchicalFocalDiceLoss

# Leaf indices as the spec lists them (written here, not read from the tree):
# 0 background, 1 normal_epi, 2 neoplastic_epi, 3-8 immune (lymphocyte, macrophage,
# neutrophil, plasma, eosinophil, other_immune), 9-12 stromal (fibroblast, muscle,
# endothelial, other_stromal), 13 necrotic.
IMMUNE, STROMAL, NUCLEI = list(range(3, 9)), list(range(9, 13)), list(range(1, 14))
PANNUKE = [[0], [2], IMMUNE, STROMAL, [13], [1]]
CONSEP = [[0], NUCLEI, IMMUNE, [1], [2], [9], [10], [11]]  # 1 "other": unknown type
MONUSAC = [[0, 6, 7, 8, 9, 10, 11, 12, 13], [1, 2], [3], [5], [4]]
SETS, UNKNOWN, OFFSETS = [PANNUKE, CONSEP, MONUSAC], [None, 1, None], [0, 6, 14]
CLASS_W = np.linspace(0.5, 2.0, 14)
SPECIES_W = np.array([2.0, 1.0, 0.5])
TVERSKY = dict(type='tversky', alpha=0.3, beta=0.7, gamma=0.75)

# Dataset ids: a super-class pixel (PanNuke 2 inflammatory), leaves (PanNuke 1, CoNSeP 5
# fibroblast), unknown type (CoNSeP 1 other), MoNuSAC's background group (0), ignore.
LABELS = np.array([
    [[0, 2, 2, 1], [5, 3, 4, 255], [0, 2, 1, 0]],
    [[0, 1, 1, 5], [2, 3, 4, 255], [0, 6, 7, 1]],
    [[0, 0, 1, 2], [3, 4, 255, 0], [1, 1, 0, 2]]])


def node_ids(labels):
    out = labels + np.array(OFFSETS)[:, None, None]
    return torch.tensor(np.where(labels == 255, 255, out))


def reference(logits, labels, gamma, region, smooth=1.0):
    """Float64: pixel term -(1 - P_t)^gamma log P_t with P a node's summed leaf
    probabilities; region term per sample over its set's nodes but the unknown-type
    one, on pixels not labelled unknown."""
    x = logits.astype(np.float64)
    p = np.exp(x - x.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    pixel_sum, n_valid, region_sum = 0.0, 0, 0.0
    for i, nodes in enumerate(SETS):
        probs = np.stack([p[i, leaves].sum(0) for leaves in nodes])
        node_w = np.array([CLASS_W[leaves].mean() for leaves in nodes])
        valid = labels[i] != 255
        t = np.where(valid, labels[i], 0)
        pt = np.take_along_axis(probs, t[None], 0)[0]
        term = -((1 - pt) ** gamma) * np.log(pt) * node_w[t] * SPECIES_W[i]
        pixel_sum += term[valid].sum()
        n_valid += valid.sum()
        scored = valid & (t != UNKNOWN[i])
        num = den = 0.0
        for k in range(len(nodes)):
            if k == UNKNOWN[i]:
                continue
            pk, gk = probs[k][scored], (t == k)[scored]
            tp = (pk * gk).sum()
            if region == 'dice':
                loss = 1 - (2 * tp + smooth) / (pk.sum() + gk.sum() + smooth)
            else:
                fp, fn = (pk * ~gk).sum(), ((1 - pk) * gk).sum()
                a, b, g = TVERSKY['alpha'], TVERSKY['beta'], TVERSKY['gamma']
                loss = (1 - (tp + smooth / 2) / (tp + a * fp + b * fn + smooth / 2)) ** g
            num += node_w[k] * loss
            den += node_w[k]
        region_sum += SPECIES_W[i] * num / den
    return pixel_sum / n_valid, region_sum / len(SETS)


def nucleus_loss(**kwargs):
    return HierarchicalFocalDiceLoss(label_tree='nucleus', class_weight=CLASS_W.tolist(),
                                     **kwargs)


def species_weight():
    return torch.tensor(SPECIES_W, dtype=torch.float32)[:, None, None].expand(3, 3, 4)


@pytest.mark.parametrize('gamma', [0.0, 2.0])
@pytest.mark.parametrize('region', ['dice', 'tversky'])
def test_mixed_batch_against_numpy(gamma, region):
    logits = np.random.default_rng(7).normal(0, 1.5, (3, 14, 3, 4)).astype(np.float32)
    loss = nucleus_loss(gamma=gamma, region=TVERSKY if region == 'tversky' else None)
    parts = loss.components(torch.tensor(logits), node_ids(LABELS), weight=species_weight())
    pixel, region_term = reference(logits, LABELS, gamma, region)
    assert parts['pixel'].item() == pytest.approx(pixel, rel=1e-5)
    assert parts[region].item() == pytest.approx(region_term, rel=1e-5)


def test_leaves_with_the_same_probabilities_get_the_same_gradient():
    """Labels at a super-class (PanNuke inflammatory, CoNSeP inflammatory) do not
    tell its leaves apart: equal logits there give equal gradients."""
    logits = torch.randn(3, 14, 3, 4, generator=torch.Generator().manual_seed(1))
    logits[:2, IMMUNE] = logits[:2, IMMUNE[:1]]
    logits[1, 13] = logits[1, 12]  # CoNSeP: other_stromal and necrotic only under "other"
    logits.requires_grad_()
    nucleus_loss(region=TVERSKY)(logits, node_ids(LABELS), weight=species_weight()).backward()
    grad = logits.grad
    for i in (0, 1):
        assert torch.allclose(grad[i, IMMUNE], grad[i, IMMUNE[:1]].expand(6, 3, 4), atol=1e-7)
        assert grad[i, IMMUNE].abs().sum() > 0
    assert torch.allclose(grad[1, 13], grad[1, 12], atol=1e-7) and grad[1, 12].abs().sum() > 0
    assert not torch.allclose(grad[2, 3], grad[2, 4])  # MoNuSAC labels its immune leaves


def test_an_unknown_type_label_trains_detection_without_a_type():
    """CoNSeP "other": on its pixels the loss pulls every nucleus leaf alike
    (background against nuclei); the region term ignores them (as if 255)."""
    labels = np.full((3, 3, 4), 255)
    labels[1] = [[0, 1, 1, 0], [1, 1, 0, 0], [0, 1, 1, 1]]
    logits = torch.randn(3, 14, 3, 4, generator=torch.Generator().manual_seed(2))
    logits[1, NUCLEI] = logits[1, 1:2].clone()
    logits.requires_grad_()
    loss = nucleus_loss(region=TVERSKY)
    loss(logits, node_ids(labels)).backward()
    other = torch.tensor(labels[1] == 1)
    grad = logits.grad[1][:, other]  # (14 leaves, pixels labelled "other")
    assert torch.allclose(grad[NUCLEI], grad[1:2].expand(13, -1), atol=1e-7)
    assert (grad[0] > 0).all() and (grad[1] < 0).all()  # background down, every type up
    with_unknown = loss.components(logits.detach(), node_ids(labels))
    labels[1][labels[1] == 1] = 255
    without = loss.components(logits.detach(), node_ids(labels))
    assert with_unknown['tversky'].item() == without['tversky'].item()
    assert with_unknown['pixel'].item() != without['pixel'].item()


def test_finite_and_float32_under_bfloat16_autocast():
    logits = (torch.randn(3, 14, 3, 4, generator=torch.Generator().manual_seed(3)) * 8)
    half = logits.bfloat16().requires_grad_()
    loss_fn = nucleus_loss(region=TVERSKY)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        amp = loss_fn(half, node_ids(LABELS), weight=species_weight())
    amp.backward()
    full = half.detach().float().requires_grad_()
    ref = loss_fn(full, node_ids(LABELS), weight=species_weight())
    ref.backward()
    assert amp.dtype == torch.float32 and torch.isfinite(amp)
    assert torch.isfinite(half.grad.float()).all()
    assert abs(amp.item() - ref.item()) < 1e-3 * abs(ref.item())


@pytest.mark.parametrize('region', [None, TVERSKY])
def test_flat_tree_is_the_plain_loss(region):
    leaves = ['background'] + [f'type{i}' for i in range(13)]
    logits = torch.randn(2, 14, 5, 5, generator=torch.Generator().manual_seed(4))
    labels = torch.randint(0, 14, (2, 5, 5), generator=torch.Generator().manual_seed(5))
    labels[0, 0] = 255
    for gamma, plain in [(2.0, FocalDiceLoss(class_weight=CLASS_W.tolist(), region=region)),
                         (0.0, CEDiceLoss(lambda_ce=0.75, lambda_dice=1.0,
                                          class_weight=CLASS_W.tolist(), region=region))]:
        hier = HierarchicalFocalDiceLoss(label_tree=dict(leaves=leaves), gamma=gamma,
                                         class_weight=CLASS_W.tolist(), region=region)
        assert hier(logits, labels).item() == pytest.approx(plain(logits, labels).item(),
                                                            rel=1e-6)


def test_a_sample_mixing_label_sets_is_refused():
    labels = node_ids(LABELS)
    labels[0, 0, 0] = OFFSETS[1] + 2  # a CoNSeP label in the PanNuke sample
    with pytest.raises(ValueError, match='mixes labels of different label sets'):
        nucleus_loss()(torch.randn(3, 14, 3, 4), labels)


def test_built_from_a_config_by_name():
    loss = MODELS.build(dict(type='HierarchicalFocalDiceLoss', label_tree='nucleus',
                             region=TVERSKY))
    assert loss.tree.num_nodes == 28 and loss.detection_only.sum() == 1
