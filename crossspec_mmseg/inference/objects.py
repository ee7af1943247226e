"""The objects of a label mask (4-connected regions of one class), traced band
by band so memory is bounded by one band plus the objects' outlines.

Each band is labelled per class; labels in the band's first row are joined
(union-find) to the labels they touch in the row carried over from the band
above, so an object crossing band borders is one object. Outlines are traced
on pixel edges ("crack" edges, the lines between pixels): an edge is kept
where the classes on its two sides differ, so outlines are exact (a ring's
area is the object's pixel count) and need no merging at band borders. Rings
are assembled per object (turning right where an object touches itself
diagonally, as 4-connectivity demands), then simplified with
``cv2.approxPolyDP`` within ``tolerance`` level-0 pixels.

Coordinates are level-0 pixel corners, as QuPath's: pixel ``(x, y)`` spans
``[x, x + 1] x [y, y + 1]``. The outer ring is counter-clockwise in the
``(x, y)`` plane (RFC 7946's right-hand rule), holes clockwise.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, List, Tuple

import cv2
import numpy as np

__all__ = ['SlideObject', 'trace_objects']

#: Edge directions: right, down, left, up (y grows downwards).
_STEPS = np.array([[1, 0], [0, 1], [-1, 0], [0, -1]])


@dataclass
class SlideObject:
    """One traced object: its class, pixel statistics and simplified rings."""

    id: int
    label: int
    area: int                             #: pixels
    centroid: Tuple[float, float]         #: (x, y), level-0 pixels
    bbox: Tuple[int, int, int, int]       #: (x, y, width, height), level-0 pixels
    rings: List[np.ndarray]               #: (n, 2) float corners; outer first, then holes

    @property
    def perimeter(self) -> float:
        """Length of the simplified rings (holes included), in pixels."""
        return float(sum(cv2.arcLength(r.astype(np.float32).reshape(-1, 1, 2), True)
                         for r in self.rings))


class _Components:
    """Provisional component ids with their statistics and a union-find."""

    def __init__(self) -> None:
        self.parent: List[int] = [0]  # id 0: background
        self.stats: List[np.ndarray] = []  # rows: label, area, sum x, sum y, x0, y0, x1, y1

    def add(self, label: int, top: int, stats: np.ndarray, centroids: np.ndarray) -> int:
        """Register components 1..n of a band; their first id."""
        first, n = len(self.parent), len(stats) - 1
        self.parent.extend(range(first, first + n))
        area = stats[1:, cv2.CC_STAT_AREA].astype(np.float64)
        x0, y0 = stats[1:, cv2.CC_STAT_LEFT], stats[1:, cv2.CC_STAT_TOP] + top
        self.stats.append(np.column_stack([
            np.full(n, label), area, centroids[1:, 0] * area, (centroids[1:, 1] + top) * area,
            x0, y0, x0 + stats[1:, cv2.CC_STAT_WIDTH], y0 + stats[1:, cv2.CC_STAT_HEIGHT]]))
        return first

    def find(self, i: int) -> int:
        parent = self.parent
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def roots(self) -> np.ndarray:
        return np.array([self.find(i) for i in range(len(self.parent))], np.int64)


def _label_band(band: np.ndarray, top: int, components: _Components) -> np.ndarray:
    """Provisional ids ``(h, W)`` (int32) of the band's 4-connected regions, per class."""
    ids = None
    for label in np.flatnonzero(np.bincount(band.ravel(), minlength=1)[1:]) + 1:
        n, local, stats, centroids = cv2.connectedComponentsWithStats(
            (band == label).view(np.uint8), connectivity=4, ltype=cv2.CV_32S)
        first = components.add(int(label), top, stats, centroids)
        np.add(local, first - 1, out=local, where=local > 0)
        if ids is None:
            ids = local
        else:
            ids += local  # classes do not overlap
    return np.zeros(band.shape, np.int32) if ids is None else ids


def _band_edges(classes: np.ndarray, ids: np.ndarray, top: int) -> np.ndarray:
    """Boundary edges ``(owner id, x, y, direction)`` of a band, including those
    between its first row and the carried row above (row 0 of the inputs)."""
    edges = []
    # Horizontal lines y = top .. top + h - 1 between row i and row i + 1 of the inputs.
    rows, cols = np.nonzero(classes[:-1] != classes[1:])
    below, above = ids[1:][rows, cols], ids[:-1][rows, cols]
    keep = below > 0  # top edge of the pixel below: rightwards from (x, y)
    edges.append(np.column_stack([below[keep], cols[keep], rows[keep] + top,
                                  np.zeros(keep.sum(), np.int64)]))
    keep = above > 0  # bottom edge of the pixel above: leftwards from (x + 1, y)
    edges.append(np.column_stack([above[keep], cols[keep] + 1, rows[keep] + top,
                                  np.full(keep.sum(), 2)]))
    # Vertical lines x = 0 .. W between columns of the band (outside is background).
    band, band_ids = classes[1:], ids[1:]
    rows, cols = np.nonzero(band[:, :-1] != band[:, 1:])
    cols += 1  # line x lies between columns x - 1 and x
    border = np.flatnonzero(band[:, 0])  # lines x = 0 and x = W: the mask's border
    rows = np.concatenate([rows, border, np.flatnonzero(band[:, -1])])
    cols = np.concatenate([cols, np.zeros(len(border), cols.dtype),
                           np.full(len(rows) - len(cols) - len(border), band.shape[1])])
    order = np.lexsort((cols, rows))  # row by row, as the lines are met
    rows, cols = rows[order], cols[order]
    right = np.where(cols < band.shape[1], band_ids[rows, np.minimum(cols, band.shape[1] - 1)], 0)
    left = np.where(cols > 0, band_ids[rows, cols - 1], 0)
    keep = right > 0  # left edge of the pixel right of the line: upwards from (x, y + 1)
    edges.append(np.column_stack([right[keep], cols[keep], rows[keep] + top + 1,
                                  np.full(keep.sum(), 3)]))
    keep = left > 0  # right edge of the pixel left of the line: downwards from (x, y)
    edges.append(np.column_stack([left[keep], cols[keep], rows[keep] + top,
                                  np.ones(keep.sum(), np.int64)]))
    return np.concatenate(edges).astype(np.int64)


def _rings(edges: np.ndarray, height: int) -> List[np.ndarray]:
    """Closed rings (corner vertices) from one object's edges ``(x, y, direction)``."""
    start = edges[:, 0] * (height + 1) + edges[:, 1]
    end_xy = edges[:, :2] + _STEPS[edges[:, 2]]
    end = end_xy[:, 0] * (height + 1) + end_xy[:, 1]
    order = np.lexsort((edges[:, 2], start))
    sorted_start = start[order]
    lo, hi = np.searchsorted(sorted_start, end, 'left'), np.searchsorted(sorted_start, end, 'right')
    following = order[lo]
    junction = np.flatnonzero(hi - lo > 1)  # the object touches itself diagonally: turn right
    for i in junction:
        candidates = order[lo[i]:hi[i]]
        right_turn = candidates[edges[candidates, 2] == (edges[i, 2] + 1) % 4]
        following[i] = right_turn[0] if len(right_turn) else candidates[0]
    following = following.tolist()
    seen = bytearray(len(edges))
    rings = []
    for first in range(len(edges)):
        if seen[first]:
            continue
        chain, i = [], first
        while not seen[i]:
            seen[i] = 1
            chain.append(i)
            i = following[i]
        ring = edges[chain]
        turns = ring[:, 2] != np.roll(ring[:, 2], 1)  # keep corners only
        rings.append(ring[turns, :2].astype(np.float64))
    return rings


def _signed_area(ring: np.ndarray) -> float:
    x, y = ring[:, 0], ring[:, 1]
    return float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y)) / 2


def _simplified(ring: np.ndarray, tolerance: float) -> np.ndarray:
    if tolerance <= 0:
        return ring
    points = cv2.approxPolyDP(ring.astype(np.float32).reshape(-1, 1, 2), tolerance, True)
    return points.reshape(-1, 2).astype(np.float64) if len(points) >= 3 else ring


def trace_objects(bands: Iterable[Tuple[int, np.ndarray]], width: int,
                  tolerance: float = 0.5) -> List[SlideObject]:
    """Objects of a label mask given as consecutive row bands.

    Args:
        bands: ``(first row, uint8 labels (h, width))`` in order, covering the mask.
        width: Mask width.
        tolerance: ``approxPolyDP`` epsilon in pixels (0: exact pixel outlines).

    Returns:
        One :class:`SlideObject` per 4-connected region of a nonzero class,
        numbered from 1 in order of their first pixel (top to bottom).
    """
    components = _Components()
    carried_classes, carried_ids = np.zeros(width, np.uint8), np.zeros(width, np.int64)
    edges, height = [], 0
    for top, band in bands:
        band = np.asarray(band)
        ids = _label_band(band, top, components)
        touching = (carried_classes == band[0]) & (carried_classes != 0)
        for a, b in set(zip(carried_ids[touching].tolist(), ids[0, touching].tolist())):
            components.union(a, b)
        edges.append(_band_edges(np.vstack([carried_classes, band]),
                                 np.vstack([carried_ids, ids]), top))
        carried_classes, carried_ids = band[-1].copy(), ids[-1].copy()
        height = top + len(band)
    last = np.vstack([carried_classes, np.zeros(width, np.uint8)])  # the mask's bottom border
    edges.append(_band_edges(last, np.vstack([carried_ids, np.zeros(width, np.int64)]),
                             height))
    if not components.stats:
        return []
    roots = components.roots()
    stats = np.concatenate(components.stats)
    owners = roots[1:]
    unique_roots, index = np.unique(owners, return_inverse=True)
    merged = np.zeros((len(unique_roots), 8))
    merged[:, 0] = stats[unique_roots - 1, 0]
    merged[:, 4:6], merged[:, 6:] = np.inf, -np.inf
    np.add.at(merged[:, 1:4], index, stats[:, 1:4])
    np.minimum.at(merged[:, 4:6], index, stats[:, 4:6])
    np.maximum.at(merged[:, 6:], index, stats[:, 6:])
    all_edges = np.concatenate(edges)
    object_of = np.searchsorted(unique_roots, roots[all_edges[:, 0]])
    order = np.argsort(object_of, kind='stable')
    bounds = np.searchsorted(object_of[order], np.arange(len(unique_roots) + 1))
    objects = []
    for k, row in enumerate(merged):
        rings = _rings(all_edges[order[bounds[k]:bounds[k + 1]], 1:], height)
        rings.sort(key=_signed_area, reverse=True)  # the outer ring (positive) first
        area = row[1]
        objects.append(SlideObject(
            id=k + 1, label=int(row[0]), area=int(area),
            centroid=(row[2] / area + 0.5, row[3] / area + 0.5),  # pixel centres
            bbox=(int(row[4]), int(row[5]), int(row[6] - row[4]), int(row[7] - row[5])),
            rings=[_simplified(r, tolerance) for r in rings]))
    return objects
