"""The maths of the segmentation losses, as pure functions.

Everything works on *node* probabilities: for a plain loss the nodes are the
head's classes; for the label-hierarchy loss they are the nodes of the label
sets (a coarse node's probability is the sum of its leaves'). One code path
serves both, so the hierarchy loss equals the plain loss when every sample is
labelled at leaf level.

Weighting and reduction (shared by focal, CE and Dice):

* focal/CE: per pixel ``w_pixel * w_class[target] * FL``, summed over valid
  (non-ignored) pixels and divided by their number: weights scale the loss,
  they are not renormalised away;
* Dice: soft Dice per sample and class over valid pixels; the class average
  is weighted by ``w_class`` (``sum_c w_c (1 - D_c) / sum_c w_c`` over the
  classes of the sample's label set); the batch average is
  ``sum_n w_n L_n / N`` where ``w_n`` is the sample's mean pixel weight (the
  species weight: constant within a sample).
* Tversky (the ``region=dict(type='tversky')`` option, in place of Dice):
  the same per-sample, per-class index and the same weighting, with the
  focal exponent applied per class: ``sum_c w_c (1 - T_c)^gamma / sum_c w_c``.
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import Tensor

__all__ = ['binary_as_two_class', 'focal_term', 'pixel_loss_mean', 'soft_counts', 'soft_dice',
           'soft_tversky', 'weighted_dice_loss', 'sample_weights']


def binary_as_two_class(logits: Tensor) -> Tensor:
    """1-channel (sigmoid) logits as 2-class logits ``[0, x]``.

    ``softmax([0, x]) == [1 - sigmoid(x), sigmoid(x)]``, so the softmax losses
    become their exact sigmoid/binary counterparts.
    """
    return torch.cat([torch.zeros_like(logits), logits], dim=1)


#: Floor of ``1 - p_t`` in the focal factor: ``(1 - p)^gamma`` has an infinite
#: slope at ``p = 1`` for ``0 < gamma < 1``; the floor keeps every gradient finite
#: (a saturated pixel's term is below 1e-12 either way).
FOCAL_FLOOR = 1e-12


def focal_term(log_pt: Tensor, gamma: float) -> Tensor:
    """``-(1 - p_t)^gamma * log p_t`` per pixel (``gamma = 0``: cross-entropy).

    ``1 - p_t`` is computed as ``-expm1(log p_t)`` (exact for confident
    pixels, where ``1 - exp`` cancels to 0) and floored at
    :data:`FOCAL_FLOOR`, so the gradient is finite for any ``gamma >= 0``.
    """
    if gamma == 0:
        return -log_pt
    return -(-torch.expm1(log_pt)).clamp_min(FOCAL_FLOOR).pow(gamma) * log_pt


def pixel_loss_mean(loss: Tensor, valid: Tensor, weight: Optional[Tensor]) -> Tensor:
    """Sum of weighted per-pixel losses over valid pixels / number of valid pixels.

    An all-ignored batch gives exactly 0 with zero gradient.
    """
    loss = torch.where(valid, loss, torch.zeros_like(loss))
    if weight is not None:
        loss = loss * weight
    return loss.sum() / valid.sum().clamp_min(1)


def soft_counts(probs: Tensor, target: Tensor, valid: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    """Soft true positives, predicted and labelled pixels per sample and
    class, each ``(N, K)``, over valid pixels.

    Intersections and label counts are scattered per class instead of
    building a one-hot ``(N, K, H, W)`` tensor.

    Args:
        probs: ``(N, K, H, W)`` node probabilities.
        target: ``(N, H, W)`` node index (any value where not ``valid``).
        valid: ``(N, H, W)`` bool.
    """
    n, k = probs.shape[:2]
    mask = valid.to(probs.dtype)
    index = torch.where(valid, target, 0).flatten(1)
    p_target = probs.gather(1, index.view(n, 1, *target.shape[1:])).squeeze(1) * mask
    inter = probs.new_zeros(n, k).scatter_add(1, index, p_target.flatten(1))
    label_sum = probs.new_zeros(n, k).scatter_add(1, index, mask.flatten(1))
    prob_sum = (probs * mask.unsqueeze(1)).flatten(2).sum(-1)
    return inter, prob_sum, label_sum


def soft_dice(probs: Tensor, target: Tensor, valid: Tensor, smooth: float = 1.0) -> Tensor:
    """Soft Dice coefficient per sample and class, ``(N, K)``; arguments as
    :func:`soft_counts`, ``smooth`` added to numerator and denominator
    (absent class: Dice 1)."""
    inter, prob_sum, label_sum = soft_counts(probs, target, valid)
    return (2 * inter + smooth) / (prob_sum + label_sum + smooth)


def soft_tversky(probs: Tensor, target: Tensor, valid: Tensor, alpha: float, beta: float,
                 smooth: float = 1.0) -> Tensor:
    """Soft Tversky index per sample and class, ``(N, K)``:
    ``(2 TP + s) / (2 (TP + alpha FP + beta FN) + s)``.

    ``FP = sum p - TP`` and ``FN = sum g - TP``; the smoothing is placed so
    that ``alpha = beta = 0.5`` gives :func:`soft_dice` exactly (the
    denominator is computed as ``2 alpha sum p + 2 beta sum g +
    2 (1 - alpha - beta) TP + s``).
    """
    inter, prob_sum, label_sum = soft_counts(probs, target, valid)
    den = (2 * alpha) * prob_sum + (2 * beta) * label_sum + (2 * (1 - alpha - beta)) * inter
    return (2 * inter + smooth) / (den + smooth)


def weighted_dice_loss(dice: Tensor, class_weight: Tensor, class_mask: Tensor,
                       sample_weight: Tensor, gamma: float = 1.0) -> Tensor:
    """Batch Dice (or focal Tversky) loss from per-sample, per-class coefficients.

    Args:
        dice: ``(N, K)`` Dice coefficients or Tversky indices.
        class_weight: ``(K,)`` weights in the class average.
        class_mask: ``(N, K)`` bool, the classes each sample is scored on.
        sample_weight: ``(N,)`` weights in the batch average (0 for a sample
            without valid pixels).
        gamma: Exponent of ``1 - dice`` per class (focal Tversky); below 1
            ``1 - dice`` is floored at :data:`FOCAL_FLOOR` (finite gradient).
    """
    w = class_weight.unsqueeze(0) * class_mask.to(dice.dtype)
    loss = 1 - dice
    if gamma != 1:
        loss = loss.clamp_min(FOCAL_FLOOR).pow(gamma)
    per_sample = (loss * w).sum(1) / w.sum(1).clamp_min(1e-12)
    return (per_sample * sample_weight).sum() / dice.shape[0]


def sample_weights(valid: Tensor, weight: Optional[Tensor]) -> Tuple[Tensor, Tensor]:
    """Per-sample weight (mean pixel weight over valid pixels; 1 without
    ``weight``) and whether the sample has any valid pixel."""
    counts = valid.flatten(1).sum(1)
    has_pixels = counts > 0
    if weight is None:
        return has_pixels.to(torch.float32), has_pixels
    total = torch.where(valid, weight, torch.zeros_like(weight)).flatten(1).sum(1)
    return total / counts.clamp_min(1), has_pixels
