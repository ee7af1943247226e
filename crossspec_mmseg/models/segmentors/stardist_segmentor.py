"""The smallest segmentor that carries a StarDist head through MMSeg's tools.

MMSeg's ``EncoderDecoder`` cannot: it argmaxes and bilinearly resizes every
channel, its TTA softmaxes every channel and does not permute rays under
flips, and ``stack_batch`` pads only the semantic, edge and depth maps. This
subclass of :class:`CrossSpeciesEncoderDecoder` (so species weights reach the
head's pixel sampler as for every head) changes three things:

* training: it stacks the samples' star targets (``gt_star_prob``,
  ``gt_star_dist`` from :class:`~crossspec_mmseg.datasets.transforms.
  StarDistTargets`) and pads them to the batch as MMSeg padded the images;
* prediction: per sample it removes the padding, undoes a test-time flip
  (flipping the maps *and* permuting the rays: horizontal ``theta -> pi -
  theta``, vertical ``theta -> -theta``), resizes to the original image
  rescaling the distances, then decodes instances with stardist's polygon
  NMS and rasterisation (compiled helpers, no TensorFlow);
* its TTA model (:class:`StarDistTTAModel`) averages the views' maps in the
  original frame and decodes once.

Each predicted sample holds ``pred_instance_map`` (``(1, H, W)`` ids 1..K,
by decreasing object probability), ``pred_instance_leaf_probs`` (``(K,
leaves)``, each instance's mean leaf softmax, what
:class:`~crossspec_mmseg.evaluation.GroupInstanceMetric` types it from),
``pred_sem_seg`` (each instance's leaf, 0 elsewhere: the nucleus class map
MMSeg's tools and ``GroupIoUMetric`` read), ``seg_logits`` (the leaf logits)
and ``pred_star_prob`` (the object probability).

Post-processing options sit in the model's ``test_cfg`` beside ``mode``:
``prob_thresh`` (0.5), ``nms_thresh`` (0.4, StarDist's defaults),
``border`` (2: no candidate that close to the image edge, in candidate
steps, as stardist's ``b``), ``candidate_stride`` (1; 2 takes every other
pixel as a candidate centre, as StarDist's ``grid=(2, 2)``),
``types_include_background`` (False: an instance's type is chosen among the
nucleus leaves, so the object probability alone decides detection; True:
StarDist's own rule, an instance typed background is dropped by the metric)
and ``keep_star_dist`` (False: the dense distances are dropped once decoded).
"""
from __future__ import annotations

import math
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.structures import PixelData
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from mmseg.utils import SampleList, add_prefix
from torch import Tensor

from .cross_species_encoder_decoder import CrossSpeciesEncoderDecoder
from .probability_tta import _FLOOR, ProbabilityTTAModel

__all__ = ['StarDistSegmentor', 'StarDistTTAModel', 'pack_star_targets', 'ray_angles',
           'ray_flip_permutation', 'rescale_rays', 'star_instances']

#: ``test_cfg`` keys of the instance decoding and their defaults.
POSTPROCESS_DEFAULTS = dict(prob_thresh=0.5, nms_thresh=0.4, border=2, candidate_stride=1,
                            types_include_background=False, keep_star_dist=False)


def ray_angles(n_rays: int) -> np.ndarray:
    """stardist's ray angles: ray ``k`` at ``2 pi k / n``, pointing
    ``(row, col) = (sin, cos)``."""
    return np.linspace(0, 2 * np.pi, n_rays, endpoint=False)


def ray_flip_permutation(n_rays: int, direction: str) -> np.ndarray:
    """Ray indices under a flip: after a flip, ray ``k`` of a pixel is ray
    ``perm[k]`` of its mirror pixel before it (an involution).

    Horizontal (columns mirrored): angle ``theta -> pi - theta``, so
    ``perm[k] = (n/2 - k) mod n``; vertical (rows mirrored): ``theta ->
    -theta``, ``perm[k] = -k mod n``.
    """
    if n_rays % 2:
        raise ValueError(f'flips permute rays only for an even number of rays, got {n_rays}')
    k = np.arange(n_rays)
    if direction == 'horizontal':
        return (n_rays // 2 - k) % n_rays
    if direction == 'vertical':
        return (-k) % n_rays
    raise ValueError(f"flip direction must be 'horizontal' or 'vertical', got {direction!r}")


def rescale_rays(dist: Tensor, scale_y: float, scale_x: float) -> Tensor:
    """Star distances ``(R, H, W)`` of a map resized by ``(scale_y, scale_x)``
    (new size over old), in the new pixels.

    Equal scales multiply every ray. Otherwise a ray's direction changes too:
    ray ``theta`` of the new map is the old direction ``phi = atan2(sin
    theta / sy, cos theta / sx)``, whose length (interpolated between the two
    neighbouring old rays) scales by ``|(sx cos phi, sy sin phi)|``.
    """
    if math.isclose(scale_y, scale_x, rel_tol=1e-6):
        return dist * scale_x
    n = dist.shape[0]
    theta = ray_angles(n)
    phi = np.mod(np.arctan2(np.sin(theta) / scale_y, np.cos(theta) / scale_x), 2 * np.pi)
    position = phi / (2 * np.pi / n)
    low = np.floor(position).astype(np.int64)
    frac = torch.as_tensor(position - low, dtype=dist.dtype, device=dist.device).view(n, 1, 1)
    factor = torch.as_tensor(np.hypot(scale_x * np.cos(phi), scale_y * np.sin(phi)),
                             dtype=dist.dtype, device=dist.device).view(n, 1, 1)
    index = torch.as_tensor(low % n, device=dist.device)
    upper = torch.as_tensor((low + 1) % n, device=dist.device)
    return (dist[index] * (1 - frac) + dist[upper] * frac) * factor


def pack_star_targets(data_samples: SampleList, size: Sequence[int]) -> Dict[str, Tensor]:
    """The samples' star targets stacked and padded to ``size`` at the right
    and bottom, as ``stack_batch`` padded the images: ``prob`` ``(N, H, W)``
    (padding ``-1``: ignored) and ``dist`` ``(N, R, H, W)`` (padding 0)."""
    height, width = size
    probs, dists = [], []
    for sample in data_samples:
        if 'gt_star_prob' not in sample or 'gt_star_dist' not in sample:
            raise KeyError(f'{sample.metainfo.get("img_path", "sample")}: no star targets; put '
                           "dict(type='StarDistTargets') after the geometric transforms and "
                           "dict(type='PackStarDistInputs') in the training pipeline")
        prob, dist = sample.gt_star_prob.data, sample.gt_star_dist.data
        h, w = prob.shape[-2:]
        if h > height or w > width:
            raise ValueError(f'star targets {h}x{w} larger than the batch {height}x{width}')
        pad = (0, width - w, 0, height - h)
        probs.append(torch.nn.functional.pad(prob[0].float(), pad, value=-1.0))
        dists.append(torch.nn.functional.pad(dist.float(), pad, value=0.0))
    return dict(prob=torch.stack(probs), dist=torch.stack(dists))


def star_instances(prob: Tensor, dist: Tensor, prob_thresh: float = 0.5,
                   nms_thresh: float = 0.4, border: int = 2,
                   candidate_stride: int = 1) -> np.ndarray:
    """Instances ``(H, W)`` int32, ids 1..K by decreasing probability, from an
    object probability ``(H, W)`` and star distances ``(R, H, W)``.

    Candidates (probability above ``prob_thresh`` on every
    ``candidate_stride``-th pixel, ``border`` candidate steps from the edge)
    are chosen where the maps are, so only they leave the device; stardist's
    sparse polygon NMS (the one its dense ``non_maximum_suppression`` runs,
    same order, same result) keeps the polygons overlapping less than
    ``nms_thresh``, and ``polygons_to_label`` draws them (more probable on
    top). Polygons covered entirely by others vanish; ids are consecutive.
    """
    from stardist import polygons_to_label  # 1 s of imports (numba): only when used
    from stardist.nms import non_maximum_suppression_sparse
    stride, border = int(candidate_stride), int(border)
    if stride < 1 or stride & (stride - 1):
        raise ValueError(f'candidate_stride must be a power of 2, got {candidate_stride}')
    height, width = prob.shape
    sub = prob[::stride, ::stride]
    candidates = sub > prob_thresh
    if border > 0:
        inner = torch.zeros_like(candidates)
        inner[border:-border, border:-border] = True
        candidates &= inner
    rows_cols = candidates.nonzero()
    if len(rows_cols) == 0:
        return np.zeros((height, width), np.int32)
    scores = sub[candidates].float().cpu().numpy()
    rays = dist[:, ::stride, ::stride][:, candidates].T.float().cpu().numpy()
    points = (rows_cols * stride).cpu().numpy()
    points, scores, rays, _ = non_maximum_suppression_sparse(rays, scores, points,
                                                             nms_thresh=nms_thresh)
    labels = polygons_to_label(rays, points, (height, width), prob=scores)
    present = np.unique(labels)
    present = present[present > 0]
    lut = np.zeros(int(labels.max()) + 1, np.int32)
    lut[present] = np.arange(1, len(present) + 1, dtype=np.int32)
    return lut[labels]


@MODELS.register_module()
class StarDistSegmentor(CrossSpeciesEncoderDecoder):
    """:class:`CrossSpeciesEncoderDecoder` for a StarDist head
    (:class:`~crossspec_mmseg.models.StarDistHead`): packs and pads the star
    targets, undoes flips and resizes on rays, decodes instances (module
    docstring; options in ``test_cfg``).

    ``out_channels`` is the width of the raw inference tensor (probability
    logit, rays, leaves), so MMSeg's sliding-window inference sums every
    channel; ``num_classes`` stays the leaves.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        head = self.decode_head
        if not hasattr(head, 'n_rays') or not hasattr(head, 'num_outputs'):
            raise TypeError(f'StarDistSegmentor needs a StarDistHead, got {type(head).__name__}')
        if getattr(self, 'instance_postprocess', None) is not None:
            raise ValueError('StarDistSegmentor decodes its own instances (polygon NMS; '
                             'thresholds in test_cfg): leave instance_postprocess out')
        self.n_rays, self.num_leaves = head.n_rays, head.num_classes
        self.out_channels = head.num_outputs
        unknown = sorted(set(self.test_cfg or {}) - set(POSTPROCESS_DEFAULTS) - {'mode', 'stride',
                                                                                  'crop_size'})
        if unknown:
            raise ValueError(f'unknown test_cfg keys {unknown}; StarDist post-processing takes '
                             f'{sorted(POSTPROCESS_DEFAULTS)}')

    @property
    def postprocess_cfg(self) -> dict:
        """The instance decoding options (``test_cfg`` over the defaults)."""
        cfg = dict(POSTPROCESS_DEFAULTS)
        cfg.update({k: v for k, v in (self.test_cfg or {}).items() if k in cfg})
        return cfg

    # -- training -----------------------------------------------------------------------------

    def _decode_head_forward_train(self, inputs, data_samples: SampleList) -> dict:
        size = data_samples[0].gt_sem_seg.shape  # padded to the batch by stack_batch
        targets = pack_star_targets(data_samples, size)
        device = inputs[0].device
        targets = {k: v.to(device) for k, v in targets.items()}
        losses = self.decode_head.loss(inputs, data_samples, self.train_cfg, targets=targets)
        return add_prefix(losses, 'decode')

    # -- prediction ---------------------------------------------------------------------------

    def _to_original(self, maps: Tensor, meta: dict) -> Tensor:
        """One sample's stacked maps ``(1, C, H, W)`` without padding, unflipped
        (rays permuted) and resized to ``ori_shape`` (rays rescaled)."""
        _, _, height, width = maps.shape
        left, right, top, bottom = meta.get('img_padding_size',
                                            meta.get('padding_size', [0] * 4))
        maps = maps[:, :, top:height - bottom, left:width - right]
        rays = slice(1, 1 + self.n_rays)
        if meta.get('flip'):
            direction = meta.get('flip_direction')
            perm = torch.as_tensor(ray_flip_permutation(self.n_rays, direction),
                                   device=maps.device)
            maps = maps.flip(dims=(3,) if direction == 'horizontal' else (2,))
            maps = torch.cat([maps[:, :1], maps[:, rays][:, perm], maps[:, rays.stop:]], dim=1)
        size = tuple(meta['ori_shape'][:2])
        if tuple(maps.shape[2:]) != size:
            scale_y, scale_x = size[0] / maps.shape[2], size[1] / maps.shape[3]
            maps = resize(maps, size=size, mode='bilinear', align_corners=self.align_corners,
                          warning=False)
            dist = rescale_rays(maps[0, rays], scale_y, scale_x)[None]
            maps = torch.cat([maps[:, :1], dist, maps[:, rays.stop:]], dim=1)
        return maps

    def postprocess_result(self, seg_logits: Tensor,
                           data_samples: Optional[SampleList] = None) -> SampleList:
        """Per sample: the maps in the original frame (:meth:`_to_original`),
        then its instances (:meth:`decode_instances`)."""
        if data_samples is None:
            data_samples = [SegDataSample() for _ in range(len(seg_logits))]
            metas = [None] * len(seg_logits)
        else:
            metas = [s.metainfo for s in data_samples]
        for i, (sample, meta) in enumerate(zip(data_samples, metas)):
            maps = seg_logits[i:i + 1]
            if meta is not None:
                maps = self._to_original(maps, meta)
            maps = maps[0]
            sample.set_data(dict(
                seg_logits=PixelData(data=maps[1 + self.n_rays:]),
                pred_star_prob=PixelData(data=maps[:1].sigmoid()),
                pred_star_dist=PixelData(data=maps[1:1 + self.n_rays])))
            if not self._instances_deferred:  # a TTA merge decodes once
                self.decode_instances(sample)
        return data_samples

    def decode_instances(self, sample: SegDataSample) -> SegDataSample:
        """Set ``pred_instance_map``, ``pred_instance_leaf_probs`` and
        ``pred_sem_seg`` from the sample's ``pred_star_prob``,
        ``pred_star_dist`` and ``seg_logits`` (leaf logits, or the log of
        merged probabilities)."""
        cfg = self.postprocess_cfg
        prob = sample.pred_star_prob.data[0]
        ids = star_instances(prob, sample.pred_star_dist.data, cfg['prob_thresh'],
                             cfg['nms_thresh'], cfg['border'], cfg['candidate_stride'])
        leaf_probs, leaf = instance_leaf_probs(ids, sample.seg_logits.data,
                                               cfg['types_include_background'])
        ids = torch.from_numpy(ids).to(prob.device)
        sample.pred_instance_map = PixelData(data=ids[None])
        sample.pred_instance_leaf_probs = leaf_probs
        sample.pred_sem_seg = PixelData(data=torch.cat([leaf.new_zeros(1), leaf])[ids.long()][None])
        if not cfg['keep_star_dist']:
            del sample.pred_star_dist
        return sample


def instance_leaf_probs(ids: np.ndarray, leaf_logits: Tensor,
                        include_background: bool = False) -> Tuple[Tensor, Tensor]:
    """Each instance's mean leaf softmax ``(K, L)`` (row ``k - 1`` for id
    ``k``) and its leaf ``(K,)``. Without ``include_background`` the
    background leaf (leaf 0) is taken out and the rest renormalised: the
    instance is a nucleus, its type one of the nucleus leaves."""
    probs = leaf_logits.float().softmax(dim=0).flatten(1)
    index = torch.from_numpy(ids.ravel().astype(np.int64)).to(probs.device)
    count = int(ids.max()) if ids.size else 0
    sums = probs.new_zeros(count + 1, probs.shape[0]).index_add_(0, index, probs.T)
    sizes = torch.bincount(index, minlength=count + 1).clamp_min(1)
    mean = (sums / sizes[:, None])[1:]
    if not include_background and len(mean):
        nuclear = mean.clone()
        nuclear[:, 0] = 0
        total = nuclear.sum(dim=1, keepdim=True)
        mean = torch.where(total > 0, nuclear / total.clamp_min(torch.finfo(total.dtype).tiny),
                           mean)
    return mean, mean.argmax(dim=1) if len(mean) else mean.new_zeros(0, dtype=torch.long)


@MODELS.register_module()
class StarDistTTAModel(ProbabilityTTAModel):
    """Test-time augmentation for :class:`StarDistSegmentor`: each view's maps
    come back in the original frame, without instances (the views are
    predicted within ``instances_deferred``, as :class:`ProbabilityTTAModel`
    does) (flips undone with the rays permuted,
    scales undone with the rays rescaled); the merge averages the object
    probabilities, the distances and the leaf softmaxes, keeps the mean leaf
    probabilities as ``seg_logits`` (their log), and decodes instances once."""

    def merge_preds(self, data_samples_list) -> SampleList:
        merged = []
        for views in data_samples_list:
            prob = torch.stack([v.pred_star_prob.data for v in views]).mean(dim=0)
            dist = torch.stack([v.pred_star_dist.data for v in views]).mean(dim=0)
            leaves = torch.stack([v.seg_logits.data.float().softmax(dim=0)
                                  for v in views]).mean(dim=0)
            sample = views[0].clone()
            sample.set_data(dict(seg_logits=PixelData(data=leaves.clamp_min(_FLOOR).log()),
                                 pred_star_prob=PixelData(data=prob),
                                 pred_star_dist=PixelData(data=dist)))
            merged.append(self.module.decode_instances(sample))
        return merged
