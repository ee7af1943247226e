"""Instance maps (0 background, 1..n one nucleus each) from class maps.

The post-processing that turns a predicted class map into nuclei is chosen
in a config by ``dict(type=...)`` from :data:`INSTANCE_POSTPROCESSORS`:

- ``ConnectedComponents``: components of the nucleus class(es);
- ``ContourWatershed``: for contour models (0 background, 1 interior,
  2 boundary), components of the interior as markers, grown by watershed
  into interior + boundary.
"""
from __future__ import annotations

from typing import Sequence, Tuple

import cv2
import numpy as np
from mmseg.registry import TASK_UTILS
from scipy import ndimage
from skimage.segmentation import watershed

__all__ = ['INSTANCE_POSTPROCESSORS', 'ConnectedComponents', 'ContourWatershed',
           'count_components', 'relabel', 'remove_small']

#: Where post-processing (class map -> instance map) is registered and built from
#: ``dict(type=...)``: MMSeg's ``TASK_UTILS``, so configs under the ``mmseg`` scope find it.
INSTANCE_POSTPROCESSORS = TASK_UTILS


def relabel(ids: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Number the non-zero ids of an instance map 1..n in increasing order.

    Returns:
        The relabelled map (int64) and the area of each instance (``areas[k - 1]``
        for instance ``k``).
    """
    ids = np.asarray(ids)
    if ids.size and ids.min() < 0:
        raise ValueError('instance ids must be non-negative')
    counts = np.bincount(ids.ravel().astype(np.int64))
    present = counts > 0
    present[0] = False
    lut = np.cumsum(present) * present
    return lut[ids], counts[present]


def remove_small(ids: np.ndarray, min_size: int) -> np.ndarray:
    """Drop instances smaller than ``min_size`` pixels; renumber 1..n."""
    ids, areas = relabel(ids)
    if min_size > 1 and (areas < min_size).any():
        keep = np.concatenate([[False], areas >= min_size])
        ids = relabel(np.where(keep[ids], ids, 0))[0]
    return ids



def count_components(mask: np.ndarray, min_area: int = 0) -> int:
    """Connected components (8-connectivity) of a binary mask with at least
    ``min_area`` pixels (the glomerulus count of metrics and slide inference)."""
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    return int((stats[1:, cv2.CC_STAT_AREA] >= max(min_area, 1)).sum()) if n > 1 else 0

@INSTANCE_POSTPROCESSORS.register_module()
class ConnectedComponents:
    """Connected components of the pixels of ``classes``.

    Args:
        classes: Class indices that are nucleus (default ``(1,)``).
        min_size: Components smaller than this (pixels) are dropped.
        connectivity: 4 or 8.
    """

    def __init__(self, classes: Sequence[int] = (1,), min_size: int = 0,
                 connectivity: int = 8) -> None:
        if connectivity not in (4, 8):
            raise ValueError(f'connectivity must be 4 or 8, got {connectivity}')
        self.classes, self.min_size, self.connectivity = tuple(classes), min_size, connectivity

    def __call__(self, classes: np.ndarray) -> np.ndarray:
        mask = np.isin(classes, self.classes).astype(np.uint8)
        _, ids = cv2.connectedComponents(mask, connectivity=self.connectivity, ltype=cv2.CV_32S)
        return remove_small(ids, self.min_size)


@INSTANCE_POSTPROCESSORS.register_module()
class ContourWatershed:
    """Nuclei of a contour model: interior components grown over the boundary.

    Each connected component of ``interior`` (at least ``min_marker`` pixels)
    is a marker; watershed on the distance to the nearest interior pixel
    grows the markers into interior + boundary, so every boundary pixel joins
    the nearest nucleus. Boundary pixels no marker reaches stay background.

    Args:
        interior: Class index of nucleus interiors.
        boundary: Class index of nucleus boundaries.
        min_size: Nuclei smaller than this (pixels, after growing) are dropped.
        min_marker: Interior components smaller than this seed nothing.
    """

    def __init__(self, interior: int = 1, boundary: int = 2, min_size: int = 0,
                 min_marker: int = 0) -> None:
        self.interior, self.boundary = interior, boundary
        self.min_size, self.min_marker = min_size, min_marker

    def __call__(self, classes: np.ndarray) -> np.ndarray:
        inner = classes == self.interior
        _, markers = cv2.connectedComponents(inner.astype(np.uint8), connectivity=8,
                                             ltype=cv2.CV_32S)
        markers = remove_small(markers, self.min_marker)
        if not markers.any():
            return markers
        distance = ndimage.distance_transform_edt(~inner)
        grown = watershed(distance, markers, mask=inner | (classes == self.boundary))
        return remove_small(grown, self.min_size)
