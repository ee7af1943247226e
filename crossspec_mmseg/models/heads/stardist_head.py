"""A StarDist-style decode head over any MMSeg backbone (route b of the nuclei
models, the seeds' model).

A light U-Net-like decoder climbs the backbone's feature pyramid (upsample,
concatenate the skip, two 3x3 convolutions per level) and a few more
upsampling stages, to stride 1 or 2; three outputs leave it: the object
probability (1 logit), ``n_rays`` radial distances (pixels of the input, as
StarDist predicts them) and the logits of the label tree's leaves.

Losses, as the seeds use them (StarDist's CoNIC code): binary cross-entropy
on the probability against StarDist's soft target (``edt_prob``), masked L1
on the distances (each pixel weighted by its probability target, normalised
by their sum, plus StarDist's small background regulariser) and, on the
leaves, the head's ``loss_decode`` (e.g. hierarchical CE + focal Tversky,
``HierarchicalFocalDiceLoss(label_tree='nucleus', region=dict(type='tversky',
...))``), weighted ``loss_weights=(1, 0.2, 1)``. Per-sample (species) weights
come from the head's pixel sampler, as for every other head
(:class:`~crossspec_mmseg.models.CrossSpeciesEncoderDecoder`), and multiply
every term's pixels.

The head computes losses from packed batch targets; the data-sample side
(stacking, padding, prediction post-processing) is
:class:`~crossspec_mmseg.models.StarDistSegmentor`'s.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from torch import Tensor, nn

__all__ = ['StarDistHead', 'star_losses']


def star_losses(prob_logit: Tensor, dist: Tensor, prob_target: Tensor, dist_target: Tensor,
                weight: Optional[Tensor] = None,
                background_reg: float = 1e-4) -> Dict[str, Tensor]:
    """StarDist's probability and distance losses, unscaled.

    Args:
        prob_logit: ``(N, H, W)`` object-probability logits.
        dist: ``(N, R, H, W)`` predicted distances.
        prob_target: ``(N, H, W)`` target probability in ``[0, 1]``; ``< 0``
            where ignored (padding, ignored area without nuclei).
        dist_target: ``(N, R, H, W)`` target distances.
        weight: ``(N, H, W)`` pixel weights (species), or None.
        background_reg: StarDist's ``train_background_reg``: weight of the
            mean absolute predicted distance on background pixels.

    Returns:
        ``prob``: ``sum_valid w * BCE(p, t) / #valid``;
        ``dist``: ``sum w * t * mean_r |d - d*| / sum t`` (``t`` the
        probability target: object pixels only, their centres most), plus
        ``background_reg * sum_valid w * (1 - t) * mean_r |d| / #valid``.
    """
    valid = prob_target >= 0
    target = prob_target.clamp_min(0).float()
    w = torch.ones_like(target) if weight is None else weight.float()
    w = torch.where(valid, w, torch.zeros_like(w))
    count = valid.sum().clamp_min(1)
    bce = F.binary_cross_entropy_with_logits(prob_logit.float(), target, reduction='none')
    prob_loss = (w * bce).sum() / count
    l1 = (dist.float() - dist_target.float()).abs().mean(dim=1)
    dist_loss = (w * target * l1).sum() / target.sum().clamp_min(1e-6)
    if background_reg:
        reg = (w * (1 - target) * dist.float().abs().mean(dim=1)).sum() / count
        dist_loss = dist_loss + background_reg * reg
    return dict(prob=prob_loss, dist=dist_loss)


@MODELS.register_module()
class StarDistHead(BaseDecodeHead):
    """Object probability, star distances and leaf logits from a feature pyramid.

    Args:
        in_channels: Channels of the selected backbone levels, finest first
            (ResNet: ``(256, 512, 1024, 2048)``; a U-Net backbone's outputs
            come coarsest first: reverse ``in_index``).
        channels: Width of the output branches (3x3 convolution, then 1x1).
        num_classes: The label tree's leaves (the class logits).
        n_rays: Radial distances per pixel (even: flips permute them).
        decoder_channels: Width of each decoder stage: one per skip level
            (``len(in_channels) - 1``) then one per extra upsampling.
        extra_upsamples: x2 upsampling stages after the finest level (ResNet's
            stride 4 -> 1 gives stride 2; StarDist's ``grid=(2, 2)``).
        loss_weights: Weights of the probability, distance and class terms
            (the seeds': ``(1, 0.2, 1)``).
        background_reg: StarDist's background regulariser of the distances.
        loss_decode: The class loss(es) on the leaf logits.
        **kwargs: As :class:`mmseg.models.decode_heads.BaseDecodeHead`
            (``in_index``, ``norm_cfg``, ``dropout_ratio``, ``sampler``...);
            ``input_transform`` is ``'multiple_select'``.
    """

    def __init__(self, in_channels: Sequence[int], channels: int, *, num_classes: int,
                 n_rays: int = 32, decoder_channels: Sequence[int] = (256, 128, 64, 64),
                 extra_upsamples: int = 1,
                 loss_weights: Sequence[float] = (1.0, 0.2, 1.0), background_reg: float = 1e-4,
                 in_index: Sequence[int] = (0, 1, 2, 3), **kwargs) -> None:
        kwargs.setdefault('input_transform', 'multiple_select')
        super().__init__(in_channels, channels, num_classes=num_classes, in_index=in_index,
                         **kwargs)
        if int(n_rays) < 4 or int(n_rays) % 2:
            raise ValueError(f'n_rays must be an even number >= 4, got {n_rays}')
        if self.out_channels != num_classes:
            raise ValueError('StarDistHead predicts the leaves with a softmax: leave '
                             'out_channels out')
        levels = len(self.in_channels)
        if len(decoder_channels) != levels - 1 + extra_upsamples:
            raise ValueError(f'decoder_channels needs {levels - 1} (skip levels) + '
                             f'{extra_upsamples} (extra upsamplings) widths, got '
                             f'{tuple(decoder_channels)}')
        if len(loss_weights) != 3 or min(loss_weights) < 0:
            raise ValueError(f'loss_weights are (probability, distances, classes) >= 0, got '
                             f'{tuple(loss_weights)}')
        self.n_rays, self.extra_upsamples = int(n_rays), int(extra_upsamples)
        self.loss_weights = tuple(float(w) for w in loss_weights)
        self.background_reg = float(background_reg)
        self._check_tree_size()

        conv = dict(conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
        self.decoder = nn.ModuleList()
        width = self.in_channels[-1]
        skips = list(self.in_channels[:-1][::-1]) + [0] * extra_upsamples
        for skip, out in zip(skips, decoder_channels):
            self.decoder.append(nn.Sequential(
                ConvModule(width + skip, out, 3, padding=1, **conv),
                ConvModule(out, out, 3, padding=1, **conv)))
            width = out
        self.star_features = ConvModule(width, channels, 3, padding=1, **conv)
        self.class_features = ConvModule(width, channels, 3, padding=1, **conv)
        self.conv_prob = nn.Conv2d(channels, 1, 1)
        self.conv_dist = nn.Conv2d(channels, self.n_rays, 1)

    def _check_tree_size(self) -> None:
        losses = self.loss_decode if isinstance(self.loss_decode, nn.ModuleList) \
            else [self.loss_decode]
        for loss in losses:
            tree = getattr(loss, 'tree', None)
            if tree is not None and len(tree.leaves) != self.num_classes:
                raise ValueError(f'num_classes={self.num_classes}, but {type(loss).__name__}\'s '
                                 f'label tree has {len(tree.leaves)} leaves')

    @property
    def num_outputs(self) -> int:
        """Channels of :meth:`predict`'s stacked output: probability logit,
        rays, leaves."""
        return 1 + self.n_rays + self.num_classes

    def forward(self, inputs: List[Tensor]) -> Tuple[Tensor, Tensor, Tensor]:
        """``(prob_logit (N, 1, h, w), dist (N, R, h, w), leaf_logits (N, L, h, w))``
        at the decoder's output stride."""
        feats = self._transform_inputs(inputs)
        x = feats[-1]
        for i, stage in enumerate(self.decoder):
            if i < len(feats) - 1:
                skip = feats[-2 - i]
                x = torch.cat([resize(x, size=skip.shape[2:], mode='bilinear',
                                      align_corners=self.align_corners), skip], dim=1)
            else:
                x = resize(x, scale_factor=2, mode='bilinear', align_corners=self.align_corners)
            x = stage(x)
        star = self.star_features(x)
        return self.conv_prob(star), self.conv_dist(star), self.cls_seg(self.class_features(x))

    def predict_by_feat(self, outputs: Tuple[Tensor, Tensor, Tensor],
                        batch_img_metas: List[dict]) -> Tensor:
        """The three outputs stacked ``(N, 1 + R + L, H, W)`` at the input size
        (distances stay in input pixels: nothing to rescale)."""
        return super().predict_by_feat(torch.cat(outputs, dim=1), batch_img_metas)

    def loss(self, inputs: List[Tensor], batch_data_samples, train_cfg,
             targets: Optional[Dict[str, Tensor]] = None) -> dict:
        if targets is None:
            raise TypeError('StarDistHead trains inside StarDistSegmentor, which packs the star '
                            "targets: set model.type='StarDistSegmentor'")
        return self.loss_by_feat(self.forward(inputs), batch_data_samples, targets)

    def loss_by_feat(self, outputs: Tuple[Tensor, Tensor, Tensor], batch_data_samples,
                     targets: Dict[str, Tensor]) -> dict:
        """Losses against packed targets: ``targets['prob']`` ``(N, H, W)``,
        ``targets['dist']`` ``(N, R, H, W)`` (:func:`~crossspec_mmseg.models.
        segmentors.stardist_segmentor.pack_star_targets`); the class target is
        the samples' ``gt_sem_seg``. Outputs are upsampled to the targets'
        size first (bilinear, as MMSeg's heads do)."""
        seg_label = self._stack_batch_gt(batch_data_samples)
        size = seg_label.shape[2:]
        prob_logit, dist, leaf_logits = (
            resize(o, size=size, mode='bilinear', align_corners=self.align_corners)
            for o in outputs)
        weight = self.sampler.sample(leaf_logits, seg_label) if self.sampler is not None \
            else None
        seg_label = seg_label.squeeze(1)
        if targets['dist'].shape[1] != self.n_rays:
            raise ValueError(f'the targets have {targets["dist"].shape[1]} rays, the head '
                             f'{self.n_rays}: set StarDistTargets(n_rays={self.n_rays})')
        star = star_losses(prob_logit.squeeze(1), dist, targets['prob'], targets['dist'],
                           weight, self.background_reg)
        w_prob, w_dist, w_class = self.loss_weights
        losses = dict(loss_prob=w_prob * star['prob'], loss_dist=w_dist * star['dist'])
        class_losses = self.loss_decode if isinstance(self.loss_decode, nn.ModuleList) \
            else [self.loss_decode]
        for loss_decode in class_losses:
            value = w_class * loss_decode(leaf_logits, seg_label, weight=weight,
                                          ignore_index=self.ignore_index)
            name = loss_decode.loss_name
            losses[name] = losses[name] + value if name in losses else value
        return losses
