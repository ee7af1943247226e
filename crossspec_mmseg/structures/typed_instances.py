"""Typed nuclei from the per-pixel probabilities of a typed contour head.

A typed contour head (issue 26, route a: any stock MMSeg decode head) has one
channel per leaf of the ``'nucleus_contour'`` tree: background, the nucleus
types, and an instance boundary (:mod:`.nucleus_contour_tree`).
:class:`TypedContourWatershed` turns its softmax into nuclei and, per
nucleus, the mean probability of each type leaf; it is built from
``dict(type='TypedContourWatershed', ...)`` in
:data:`~.instances.INSTANCE_POSTPROCESSORS` (MMSeg's ``TASK_UTILS``) like
the class-map post-processings beside it, but it takes probabilities, not a
class map: the segmentor runs it
(``CrossSpeciesEncoderDecoder(instance_postprocess=...)``) and hands
``pred_instance_map`` and ``pred_instance_leaf_probs`` to the metrics.
"""
from __future__ import annotations

from typing import Tuple

import cv2
import numpy as np
from scipy import ndimage
from skimage.segmentation import watershed

from .instances import INSTANCE_POSTPROCESSORS, remove_small

__all__ = ['TypedContourWatershed', 'instance_mean_probabilities']


def instance_mean_probabilities(ids: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """``means[k - 1, c]``: the mean of channel ``c`` of ``probs`` (C x H x W)
    over the pixels of instance ``k`` of ``ids`` (H x W, 0 background);
    instances absent from the map get zeros."""
    flat = np.asarray(ids).ravel().astype(np.int64, copy=False)
    values = np.asarray(probs).reshape(len(probs), -1)
    fg = flat > 0
    n = int(flat.max(initial=0))
    area = np.bincount(flat[fg], minlength=n + 1)[1:]
    sums = np.stack([np.bincount(flat[fg], weights=v[fg], minlength=n + 1)[1:]
                     for v in values], axis=1) if len(values) else np.zeros((n, 0))
    return np.divide(sums, area[:, None], out=np.zeros_like(sums, dtype=np.float64),
                     where=area[:, None] > 0)


@INSTANCE_POSTPROCESSORS.register_module()
class TypedContourWatershed:
    """Nuclei and their type probabilities from a typed contour head.

    From the per-pixel probabilities ``p`` (the softmax of the head's
    channels, ``C x H x W``):

    - *nucleus* = the sum of the nucleus leaves' probabilities (every channel
      but ``background`` and ``boundary``);
    - nucleus pixels: ``nucleus + p[boundary] > p[background]``;
    - markers: the connected components (``connectivity``) of the interiors,
      ``nucleus > p[boundary]`` and ``nucleus > p[background]``, of at least
      ``min_marker`` pixels;
    - each marker grows by watershed on the distance to the nearest marker
      pixel over the nucleus pixels, so the boundary between two touching
      nuclei (of one type or two) is split between them and they stay apart;
      nucleus pixels no marker reaches stay background;
    - nuclei smaller than ``min_size`` pixels are dropped, the rest numbered
      1..n in the (row-major) order of their markers.

    Returns ``(ids, leaf_probs)``: the H x W int32 instance map and, per
    nucleus, the mean over its pixels of every channel but ``boundary``,
    normalised to sum 1 (``leaf_probs[k - 1]``; n x (C - 1) float32). For a
    head on the ``'nucleus_contour'`` tree these columns are the leaves of
    the ``'nucleus'`` tree in their order, the columns of
    ``LabelTree.build('nucleus').matrix``: ``GroupInstanceMetric(
    label_tree='nucleus')`` sums them into each dataset's label set.

    Args:
        background: Channel of the background leaf.
        boundary: Channel of the boundary leaf (negative: from the end).
        min_size: Nuclei smaller than this (pixels, after growing) are dropped.
        min_marker: Interior components smaller than this seed nothing.
        connectivity: 4 or 8, of the interior components.
    """

    def __init__(self, background: int = 0, boundary: int = -1, min_size: int = 0,
                 min_marker: int = 0, connectivity: int = 8) -> None:
        if connectivity not in (4, 8):
            raise ValueError(f'connectivity must be 4 or 8, got {connectivity}')
        self.background, self.boundary = background, boundary
        self.min_size, self.min_marker, self.connectivity = min_size, min_marker, connectivity

    def channels(self, num_channels: int) -> Tuple[int, int, np.ndarray]:
        """Background channel, boundary channel and the nucleus leaves' channels."""
        background, boundary = self.background % num_channels, self.boundary % num_channels
        if num_channels < 3 or background == boundary:
            raise ValueError(f'TypedContourWatershed needs background, boundary and at least '
                             f'one nucleus channel; got {num_channels} channels with '
                             f'background={self.background}, boundary={self.boundary}')
        leaves = np.array([c for c in range(num_channels) if c not in (background, boundary)])
        return background, boundary, leaves

    def __call__(self, probs: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        probs = np.asarray(probs, np.float32)
        if probs.ndim != 3:
            raise ValueError('TypedContourWatershed takes per-pixel probabilities (C x H x W), '
                             f'got an array of shape {probs.shape}: give it to the segmentor '
                             "(CrossSpeciesEncoderDecoder(instance_postprocess=dict(type="
                             "'TypedContourWatershed'))), not a class-map metric")
        background, boundary, leaves = self.channels(len(probs))
        nucleus = probs[leaves].sum(0)
        edge, back = probs[boundary], probs[background]
        interior = (nucleus > edge) & (nucleus > back)
        _, markers = cv2.connectedComponents(interior.astype(np.uint8),
                                             connectivity=self.connectivity, ltype=cv2.CV_32S)
        markers = remove_small(markers, self.min_marker)
        kept = [c for c in range(len(probs)) if c != boundary]
        if not markers.any():
            return np.zeros(probs.shape[1:], np.int32), np.zeros((0, len(kept)), np.float32)
        seeds = markers > 0
        distance = ndimage.distance_transform_edt(~seeds)
        grown = watershed(distance, markers, mask=(nucleus + edge > back) | seeds)
        ids = remove_small(grown, self.min_size).astype(np.int32)
        means = instance_mean_probabilities(ids, probs[kept])
        total = means.sum(1, keepdims=True)
        means = np.divide(means, total, out=np.zeros_like(means), where=total > 0)
        return ids, means.astype(np.float32)
