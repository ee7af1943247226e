"""Registered losses: focal + Dice (joint training), CE + Dice (separate
training) and their label-hierarchy forms.

They are drop-in ``loss_decode`` entries for any MMSeg decode or auxiliary
head: ``loss(seg_logits, seg_label, weight=seg_weight, ignore_index=...)``.
Per-sample species weights arrive as the per-pixel ``weight`` (see
:class:`crossspec_mmseg.models.CrossSpeciesEncoderDecoder`). How weights enter
each term is documented in :mod:`.functional`.
"""
from __future__ import annotations

from typing import Dict, Mapping, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor, nn

from ...structures import LabelTree
from .functional import (
    binary_as_two_class,
    focal_term,
    pixel_loss_mean,
    sample_weights,
    soft_dice,
    soft_tversky,
    weighted_dice_loss,
)

__all__ = ['FocalDiceLoss', 'CEDiceLoss', 'HierarchicalFocalDiceLoss']


def parse_region(region: Optional[Mapping]) -> Dict[str, object]:
    """The region term: ``None``/``dict(type='dice')``, or
    ``dict(type='tversky', alpha=0.3, beta=0.7, gamma=0.75)`` (focal Tversky:
    ``alpha`` weighs false positives, ``beta`` false negatives, ``gamma`` is
    the exponent of ``1 - T`` per class)."""
    region = dict(region or dict(type='dice'))
    kind = region.pop('type', 'dice')
    if kind == 'dice' and not region:
        return dict(type='dice')
    if kind != 'tversky':
        raise ValueError(f"region must be dict(type='dice') or dict(type='tversky', alpha=..., "
                         f"beta=..., gamma=...), got type={kind!r} with {region}")
    params = dict(alpha=0.3, beta=0.7, gamma=0.75)
    unknown = sorted(set(region) - set(params))
    if unknown:
        raise ValueError(f'unknown Tversky options {unknown}; use alpha, beta, gamma')
    params.update(region)
    if params['alpha'] < 0 or params['beta'] < 0 or params['alpha'] + params['beta'] <= 0 \
            or params['gamma'] <= 0:
        raise ValueError(f'Tversky needs alpha, beta >= 0 with alpha + beta > 0 and gamma > 0, '
                         f'got {params}')
    return dict(type='tversky', **params)


class _PixelDiceLoss(nn.Module):
    """``lambda_pixel * focal(gamma) + lambda_dice * region`` on label-tree nodes
    (region: Dice, or focal Tversky, see :func:`parse_region`)."""

    def __init__(self, *, gamma: float, lambda_pixel: float, lambda_dice: float,
                 class_weight: Optional[Sequence[float]], tree: Optional[LabelTree],
                 use_sigmoid: bool, smooth: float, ignore_index: int, loss_name: str,
                 check_labels: bool = True, region: Optional[Mapping] = None) -> None:
        super().__init__()
        self.check_labels = check_labels
        self.region = parse_region(region)
        if gamma < 0 or lambda_pixel < 0 or lambda_dice < 0 or smooth < 0:
            raise ValueError(f'gamma ({gamma}), the lambdas ({lambda_pixel}, {lambda_dice}) '
                             f'and smooth ({smooth}) must be >= 0')
        if not loss_name.startswith('loss_'):
            raise ValueError(f'loss_name must start with "loss_" (MMSeg sums those), got '
                             f'{loss_name!r}')
        if use_sigmoid and tree is not None and not tree.is_flat:
            raise ValueError('use_sigmoid is for 1-channel heads; a label tree needs softmax')
        self.gamma, self.lambda_pixel, self.lambda_dice = gamma, lambda_pixel, lambda_dice
        self.use_sigmoid, self.smooth, self.ignore_index = use_sigmoid, smooth, ignore_index
        self._loss_name = loss_name
        self._leaf_class_weight = class_weight
        if tree is None and class_weight is not None:
            tree = LabelTree.flat(len(class_weight))
        self.tree = tree
        if tree is not None:
            self._register_tree(tree, class_weight)

    def _register_tree(self, tree: LabelTree, class_weight) -> None:
        self.register_buffer('class_weight', tree.node_class_weight(class_weight), persistent=False)
        self.register_buffer('node_set', tree.node_set, persistent=False)
        self.register_buffer('detection_only', tree.detection_only, persistent=False)
        singles = [r for r, members in enumerate(tree.node_leaves) if len(members) == 1]
        groups = [r for r, members in enumerate(tree.node_leaves) if len(members) > 1]
        # Node r is column order[r] of cat([leaf rows, group rows]).
        order = torch.empty(tree.num_nodes, dtype=torch.long)
        order[singles] = torch.arange(len(singles))
        order[groups] = len(singles) + torch.arange(len(groups))
        self.register_buffer('node_order', order, persistent=False)
        self.register_buffer('single_leaves', torch.tensor(
            [tree.node_leaves[r][0] for r in singles], dtype=torch.long), persistent=False)
        self.register_buffer('group_matrix', tree.matrix[groups], persistent=False)

    @property
    def loss_name(self) -> str:
        return self._loss_name

    def _nodes(self, logits: Tensor):
        """Node log-probabilities and probabilities ``(N, T, H, W)``."""
        if self.use_sigmoid:
            if logits.shape[1] != 1:
                raise ValueError(f'use_sigmoid expects 1-channel logits, got {logits.shape[1]}')
            logits = binary_as_two_class(logits)
        if self.tree is None:  # flat tree sized on first use
            self.tree = LabelTree.flat(logits.shape[1])
            self._register_tree(self.tree, self._leaf_class_weight)
            self.to(logits.device)
        if logits.shape[1] != len(self.tree.leaves):
            raise ValueError(f'logits have {logits.shape[1]} channels, the label tree '
                             f'{len(self.tree.leaves)} leaves')
        log_probs = F.log_softmax(logits.float(), dim=1)
        probs = log_probs.exp()
        if self.tree.is_flat:
            return log_probs, probs
        # Leaf nodes keep the exact log-softmax (so leaf-only labels give the plain
        # loss); group nodes sum their leaves' probabilities.
        group_p = torch.einsum('gc,nchw->nghw', self.group_matrix, probs)
        group_logp = torch.log(group_p.clamp_min(torch.finfo(group_p.dtype).tiny))
        node_p = torch.cat([probs.index_select(1, self.single_leaves), group_p], 1)
        node_logp = torch.cat([log_probs.index_select(1, self.single_leaves), group_logp], 1)
        return node_logp.index_select(1, self.node_order), node_p.index_select(1, self.node_order)

    def components(self, seg_logits: Tensor, seg_label: Tensor,
                   weight: Optional[Tensor] = None,
                   ignore_index: Optional[int] = None) -> Dict[str, Tensor]:
        """The unscaled terms (for tests and logging): ``pixel`` (focal/CE) and
        ``dice`` or ``tversky`` (the region term).

        Computed in float32 whatever the autocast state: under fp16 AMP the
        group-probability sums and Dice reductions would otherwise run in half
        precision (small group probabilities clamp at fp16's tiny value).
        """
        with torch.autocast(device_type=seg_logits.device.type, enabled=False):
            return self._components(seg_logits.float(), seg_label, weight, ignore_index)

    def _components(self, seg_logits: Tensor, seg_label: Tensor, weight: Optional[Tensor],
                    ignore_index: Optional[int]) -> Dict[str, Tensor]:
        ignore = self.ignore_index if ignore_index is None else ignore_index
        node_logp, node_p = self._nodes(seg_logits)
        num_nodes = node_p.shape[1]
        label = seg_label.long()
        valid = label != ignore
        target = torch.where(valid, label, torch.zeros_like(label))
        sample_set = self._sample_label_sets(target, valid, num_nodes, ignore)
        if weight is not None:
            weight = weight.float()
        log_pt = node_logp.gather(1, target.unsqueeze(1)).squeeze(1)
        pixel = focal_term(log_pt, self.gamma) * self.class_weight[target]
        pixel_loss = pixel_loss_mean(pixel, valid, weight)

        class_mask = self.node_set.unsqueeze(0) == sample_set.unsqueeze(1)
        if self.use_sigmoid:  # binary Dice on the foreground only
            class_mask[:, 0] = False
        # An unknown-type label (CoNSeP "other") is a detection label: the pixel term
        # above only; neither a class nor a pixel of the region term.
        class_mask &= ~self.detection_only.unsqueeze(0)
        valid = valid & ~self.detection_only[target]
        region = self.region
        if region['type'] == 'tversky':
            index = soft_tversky(node_p, target, valid, region['alpha'], region['beta'],
                                 self.smooth)
        else:
            index = soft_dice(node_p, target, valid, self.smooth)
        per_sample, has_pixels = sample_weights(valid, weight)
        region_loss = weighted_dice_loss(index, self.class_weight,
                                         class_mask & has_pixels[:, None], per_sample,
                                         region.get('gamma', 1.0))
        return {'pixel': pixel_loss, region['type']: region_loss}

    def _sample_label_sets(self, target: Tensor, valid: Tensor, num_nodes: int,
                           ignore: int) -> Tensor:
        """Each sample's label set; checks labels in range and one label set per
        sample with a single device -> host synchronisation."""
        out_of_range = target >= num_nodes
        sets = self.node_set[torch.where(out_of_range, torch.zeros_like(target), target)]
        high = torch.where(valid, sets, torch.full_like(sets, -1)).flatten(1).max(1).values
        low = torch.where(valid, sets, torch.full_like(sets, 1 << 30)).flatten(1).min(1).values
        mixed = (high >= 0) & (high != low)
        if self.check_labels and bool(out_of_range.any() | mixed.any()):  # the one sync
            if bool(out_of_range.any()):
                bad = torch.unique(target[out_of_range]).tolist()
                raise ValueError(f'labels {bad[:5]} out of range for {num_nodes} classes/nodes '
                                 f'(and not ignore_index={ignore})')
            raise ValueError('a sample mixes labels of different label sets; give each dataset '
                             'its label_offset from the label tree')
        return high.clamp_min(0)

    def forward(self, seg_logits: Tensor, seg_label: Tensor, weight: Optional[Tensor] = None,
                ignore_index: Optional[int] = None, **kwargs) -> Tensor:
        parts = self.components(seg_logits, seg_label, weight, ignore_index)
        return (self.lambda_pixel * parts['pixel']
                + self.lambda_dice * parts[self.region['type']])


@MODELS.register_module()
class FocalDiceLoss(_PixelDiceLoss):
    """Joint-training loss ``L_t = lambda_focal * FL_w + lambda_dice * Dice``.

    Args:
        gamma: Focusing parameter (0 gives weighted cross-entropy).
        lambda_focal: Weight of the focal term.
        lambda_dice: Weight of the Dice (region) term.
        class_weight: One weight per class (multiplies the focal term per
            pixel; weights the Dice class average).
        region: The region term: Dice (default) or focal Tversky,
            ``dict(type='tversky', alpha=0.3, beta=0.7, gamma=0.75)``
            (:func:`parse_region`; same class/sample weights and ignore rule).
        use_sigmoid: Binary mode for 1-channel heads (sigmoid focal, Dice on
            the foreground).
        smooth: Dice smoothing.
        ignore_index: Label ignored by both terms (the head's value wins).
        loss_name: Name in the log; must start with ``loss_``.
        check_labels: Raise on labels out of range (and, for a label tree,
            samples mixing label sets): one host-device synchronisation per
            call. The datasets already check every tile's labels when they
            are built, so GPU runs may turn it off.
    """

    def __init__(self, gamma: float = 2.0, lambda_focal: float = 0.75, lambda_dice: float = 1.0,
                 class_weight: Optional[Sequence[float]] = None, use_sigmoid: bool = False,
                 smooth: float = 1.0, ignore_index: int = 255,
                 loss_name: str = 'loss_focal_dice', check_labels: bool = True,
                 region: Optional[Mapping] = None) -> None:
        super().__init__(gamma=gamma, lambda_pixel=lambda_focal, lambda_dice=lambda_dice,
                         class_weight=class_weight, tree=None, use_sigmoid=use_sigmoid,
                         smooth=smooth, ignore_index=ignore_index, loss_name=loss_name,
                         check_labels=check_labels, region=region)


@MODELS.register_module()
class CEDiceLoss(_PixelDiceLoss):
    """Separate-training loss ``L_s = lambda_ce * CE + lambda_dice * Dice``
    (same weighting, ignore rules and ``region`` option as
    :class:`FocalDiceLoss`; unlike MMSeg's CrossEntropyLoss, class weights
    work with ignored pixels)."""

    def __init__(self, lambda_ce: float = 0.5, lambda_dice: float = 0.75,
                 class_weight: Optional[Sequence[float]] = None, use_sigmoid: bool = False,
                 smooth: float = 1.0, ignore_index: int = 255,
                 loss_name: str = 'loss_ce_dice', check_labels: bool = True,
                 region: Optional[Mapping] = None) -> None:
        super().__init__(gamma=0.0, lambda_pixel=lambda_ce, lambda_dice=lambda_dice,
                         class_weight=class_weight, tree=None, use_sigmoid=use_sigmoid,
                         smooth=smooth, ignore_index=ignore_index, loss_name=loss_name,
                         check_labels=check_labels, region=region)


@MODELS.register_module()
class HierarchicalFocalDiceLoss(_PixelDiceLoss):
    """Focal (or CE with ``gamma=0``) + Dice against labels at any tree level.

    The head predicts the leaves; a pixel labelled with a coarse node is
    compared with the *sum* of its leaves' probabilities, in both terms; each
    sample's region term runs over its own label set's nodes (the set its
    node ids belong to). A pixel with the tree's unknown-type label, in a set
    where that node overlaps the others (CoNSeP "other"), counts in the pixel
    term only (``-log`` of its nodes' summed probability: detection without a
    type); it is no class of the region term.

    Args:
        label_tree: ``dict(leaves=..., nodes=..., label_sets=...)``, a
            :class:`LabelTree`, or a shipped tree's name (``'nucleus'``);
            validated at build time (:meth:`LabelTree.build`).
        class_weight: Per leaf; a coarse node gets the mean of its leaves.
        gamma, lambda_focal, lambda_dice, smooth, ignore_index, loss_name,
            check_labels, region: As :class:`FocalDiceLoss` (a coarse node's
            Tversky index also uses the sum of its leaves' probabilities).
    """

    def __init__(self, label_tree: Union[str, Mapping, LabelTree], gamma: float = 2.0,
                 lambda_focal: float = 0.75, lambda_dice: float = 1.0,
                 class_weight: Optional[Sequence[float]] = None,
                 smooth: float = 1.0, ignore_index: int = 255,
                 loss_name: str = 'loss_hierarchical', check_labels: bool = True,
                 region: Optional[Mapping] = None) -> None:
        tree = LabelTree.build(label_tree)
        super().__init__(gamma=gamma, lambda_pixel=lambda_focal, lambda_dice=lambda_dice,
                         class_weight=class_weight, tree=tree, use_sigmoid=False,
                         smooth=smooth, ignore_index=ignore_index, loss_name=loss_name,
                         check_labels=check_labels, region=region)
