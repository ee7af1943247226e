"""StarDist targets, computed after the geometric augmentations.

Star distances and the object probability depend on geometry: a flip permutes
the rays, a resize scales them, a crop cuts them. So they are computed from
the *augmented* instance map, once per sample, by the stardist package's own
compiled helpers (``edt_prob``, ``star_dist``; no TensorFlow), and packed
beside the usual fields::

    train_pipeline = [
        dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
        dict(type='LoadInstanceMap'),
        dict(type='RandomRotFlip', rotate_prob=0.5, flip_prob=0.5),  # geometry first
        dict(type='StarDistTargets', n_rays=32),
        dict(type='PhotoMetricDistortion'),                      # colour may come after
        dict(type='PackStarDistInputs', meta_keys=...),
    ]

The per-pixel class target is the type mask itself (``gt_seg_map``, packed and
padded by MMSeg as ``gt_sem_seg``); :class:`StarDistSegmentor
<crossspec_mmseg.models.StarDistSegmentor>` stacks and pads the star targets
(MMSeg's ``stack_batch`` pads only the semantic, edge and depth maps).
"""
from __future__ import annotations

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import PixelData
from mmseg.registry import TRANSFORMS

from .instances import PackSegInputsWithInstances

__all__ = ['StarDistTargets', 'PackStarDistInputs', 'star_targets']

#: stardist's ``star_dist`` reads the instance map as uint16.
_MAX_ID = np.iinfo(np.uint16).max


def star_targets(ids: np.ndarray, n_rays: int):
    """``(prob, dist)`` of an instance map with stardist's helpers: the object
    probability ``edt_prob(ids)`` ``(H, W)`` (each nucleus's distance to its
    boundary over its maximum) and the star distances ``star_dist(ids,
    n_rays)`` ``(H, W, n_rays)``, both float32. Ids above 65535 (stardist
    reads uint16) are renumbered first, keeping each nucleus apart."""
    from stardist import edt_prob, star_dist  # 1 s of imports (numba): only when used
    ids = np.asarray(ids)
    if ids.ndim != 2:
        raise ValueError(f'an instance map has 2 dimensions, got shape {ids.shape}')
    if ids.size and ids.min() < 0:
        raise ValueError(f'instance ids must be >= 0, got {int(ids.min())}')
    if ids.size and ids.max() > _MAX_ID:
        _, inverse = np.unique(ids, return_inverse=True)
        renumbered = inverse.reshape(ids.shape) + int((ids != 0).all())  # 0 stays background
        if renumbered.max() > _MAX_ID:
            raise ValueError(f'{renumbered.max()} nuclei in one sample: star_dist reads at '
                             f'most {_MAX_ID} ids')
        ids = renumbered
    ids = np.ascontiguousarray(ids, dtype=np.uint16)
    prob = np.asarray(edt_prob(ids), np.float32)
    dist = np.asarray(star_dist(ids, n_rays), np.float32)
    return prob, dist


@TRANSFORMS.register_module()
class StarDistTargets(BaseTransform):
    """Object probability and star distances from ``gt_instance_map``.

    Place it after every geometric transform (flips, rotations, crops,
    resizes) and before the packing (:class:`PackStarDistInputs`). Adds
    ``gt_star_prob`` ``(H, W)`` and ``gt_star_dist`` ``(H, W, n_rays)``
    (float32, pixels); neither is a ``seg_field``, so a geometric transform
    placed after it by mistake leaves them behind and the packing refuses the
    sample (their size no longer matches the image).

    Ignored area: pixels labelled ``ignore_index`` in ``gt_seg_map`` that
    belong to no nucleus (MoNuSAC's ambiguous regions, PanNuke's unlabelled
    pixels) get probability target ``-1``: no term of the probability or
    distance losses counts them. Nuclei keep their targets even where their
    type is ignored (PanNuke's pixels labelled in two channels).

    Args:
        n_rays: Rays per pixel (32 or 64 in the seeds; even, so that flips
            permute rays).
        ignore_index: The ignored label of ``gt_seg_map``.
    """

    def __init__(self, n_rays: int = 32, ignore_index: int = 255) -> None:
        if int(n_rays) < 4 or int(n_rays) % 2:
            raise ValueError(f'n_rays must be an even number >= 4 (flips permute rays), '
                             f'got {n_rays}')
        self.n_rays, self.ignore_index = int(n_rays), ignore_index

    def transform(self, results: dict) -> dict:
        if 'gt_instance_map' not in results:
            raise KeyError(f'{results.get("img_path", "sample")}: StarDistTargets needs '
                           "gt_instance_map: put dict(type='LoadInstanceMap') in the pipeline "
                           '(the dataset must list instance maps)')
        ids = results['gt_instance_map']
        prob, dist = star_targets(ids, self.n_rays)
        seg = results.get('gt_seg_map')
        if seg is not None:
            if seg.shape != ids.shape:
                raise ValueError(f'{results.get("img_path", "sample")}: gt_seg_map '
                                 f'{seg.shape} and gt_instance_map {ids.shape} differ')
            prob[(seg == self.ignore_index) & (ids == 0)] = -1
        results['gt_star_prob'] = prob
        results['gt_star_dist'] = dist
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(n_rays={self.n_rays}, ignore_index={self.ignore_index})'


@TRANSFORMS.register_module()
class PackStarDistInputs(PackSegInputsWithInstances):
    """:class:`PackSegInputsWithInstances` that also packs the star targets
    (when :class:`StarDistTargets` made them) as the data sample's
    ``gt_star_prob`` ``(1, H, W)`` and ``gt_star_dist`` ``(n_rays, H, W)``."""

    def transform(self, results: dict) -> dict:
        packed = super().transform(results)
        if 'gt_star_prob' not in results:
            return packed
        prob, dist = results['gt_star_prob'], results['gt_star_dist']
        size = results['img'].shape[:2]
        if prob.shape != size or dist.shape[:2] != size:
            raise ValueError(f'{results.get("img_path", "sample")}: star targets '
                             f'{prob.shape} do not match the image {size}: put '
                             'StarDistTargets after every geometric transform')
        sample = packed['data_samples']
        sample.gt_star_prob = PixelData(data=torch.from_numpy(np.ascontiguousarray(prob)[None]))
        sample.gt_star_dist = PixelData(data=torch.from_numpy(
            np.ascontiguousarray(dist.transpose(2, 0, 1))))
        return packed
