"""The objects of a label mask (4-connected regions of one class), found from
the mask's row runs: the mask is read once, band by band, and each object is
handed out as soon as a band ends below it, so memory is one band plus the
runs of the objects still open.

Each band is cut into runs (maximal stretches of one class along a row) with
one comparison pass over its pixels; everything after that costs per run, not
per pixel. A run is joined to the runs of its class it overlaps in the row
above (the previous band's last row for a band's first row), and the objects
are the connected components of that graph, so an object crossing band
borders is one object. Pixel statistics (area, centroid, bounding box) are
sums over an object's runs.

Outlines are traced on pixel edges ("crack" edges, the lines between pixels),
so they are exact (a ring's area is the object's pixel count): each run adds
its left and right sides and the stretches of its top and bottom that no run
of its class covers. These segments are chained into rings per object
(turning right where an object touches itself diagonally, as 4-connectivity
demands), then simplified with ``cv2.approxPolyDP`` within ``tolerance``
level-0 pixels.

Coordinates are level-0 pixel corners, as QuPath's: pixel ``(x, y)`` spans
``[x, x + 1] x [y, y + 1]``. The outer ring is counter-clockwise in the
``(x, y)`` plane (RFC 7946's right-hand rule), holes clockwise.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator, List, Tuple

import cv2
import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components, depth_first_order

__all__ = ['SlideObject', 'iter_objects', 'trace_objects']

#: Segment directions: right, down, left, up (y grows downwards).
RIGHT, DOWN, LEFT, UP = range(4)


@dataclass
class SlideObject:
    """One traced object: its class, pixel statistics and simplified rings."""

    id: int
    label: int
    area: int                             #: pixels
    centroid: Tuple[float, float]         #: (x, y), level-0 pixels
    bbox: Tuple[int, int, int, int]       #: (x, y, width, height), level-0 pixels
    rings: List[np.ndarray]               #: (n, 2) int corners; outer first, then holes

    @property
    def perimeter(self) -> float:
        """Length of the simplified rings (holes included), in pixels."""
        return float(sum(cv2.arcLength(r.astype(np.float32).reshape(-1, 1, 2), True)
                         for r in self.rings))


@dataclass
class _Runs:
    """Runs of nonzero classes in raster order: row ``y``, columns ``[x0, x1)``."""

    y: np.ndarray
    x0: np.ndarray
    x1: np.ndarray
    label: np.ndarray

    def __len__(self) -> int:
        return len(self.y)

    @staticmethod
    def empty() -> '_Runs':
        return _Runs(*(np.zeros(0, np.int32),) * 3, np.zeros(0, np.uint8))

    def take(self, index) -> '_Runs':
        return _Runs(self.y[index], self.x0[index], self.x1[index], self.label[index])

    @staticmethod
    def concatenate(parts: List['_Runs']) -> '_Runs':
        return _Runs(*(np.concatenate([getattr(p, f) for p in parts])
                       for f in ('y', 'x0', 'x1', 'label')))


def _band_runs(band: np.ndarray, top: int) -> _Runs:
    """The runs of a band whose first row is mask row ``top``."""
    width = band.shape[1]
    flat = np.ascontiguousarray(band).reshape(-1)
    change = flat[1:] != flat[:-1]
    change[width - 1::width] = True  # every row starts a run
    starts = np.concatenate([[0], np.flatnonzero(change) + 1])
    lengths = np.diff(starts, append=flat.size)
    label = flat[starts]
    keep = label > 0
    y, x0 = np.divmod(starts[keep], width)
    return _Runs((y + top).astype(np.int32), x0.astype(np.int32),
                 (x0 + lengths[keep]).astype(np.int32), label[keep])


def _overlaps(runs: _Runs, width: int) -> Tuple[np.ndarray, np.ndarray]:
    """Pairs ``(lower, upper)`` of indexes into ``runs`` (raster order): runs of
    one class that overlap in consecutive rows, ordered by lower then upper."""
    row = runs.y.astype(np.int64) * (width + 1)  # a row's keys stay below the next row's
    above = row - (width + 1)
    lo = np.searchsorted(row + runs.x1, above + runs.x0, 'right')  # ends right of our start
    hi = np.searchsorted(row + runs.x0, above + runs.x1, 'left')   # start left of our end
    counts = np.maximum(hi - lo, 0)
    lower = np.repeat(np.arange(len(runs)), counts)
    first = np.cumsum(counts) - counts
    upper = np.repeat(lo - first, counts) + np.arange(counts.sum())
    same = runs.label[lower] == runs.label[upper]
    return lower[same], upper[same]


def _uncovered(run: np.ndarray, start: np.ndarray, end: np.ndarray, runs: _Runs
               ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(run, start, end)`` of the stretches of each run that the intervals
    ``[start, end)`` of its pairs (sorted by run, then start) leave uncovered."""
    first, last = np.ones(len(run), bool), np.ones(len(run), bool)
    first[1:] = last[:-1] = run[1:] != run[:-1]
    lone = np.ones(len(runs), bool)
    lone[run] = False
    lone = np.flatnonzero(lone)
    gap_run = np.concatenate([run, run[last], lone])
    gap_start = np.concatenate([np.where(first, runs.x0[run], np.roll(end, 1)), end[last],
                                runs.x0[lone]])
    gap_end = np.concatenate([start, runs.x1[run[last]], runs.x1[lone]])
    keep = gap_end > gap_start
    return gap_run[keep], gap_start[keep], gap_end[keep]


def _segments(runs: _Runs, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Outline segments ``(run, start x, start y, end x, end y, direction)``."""
    start = np.maximum(runs.x0[lower], runs.x0[upper])  # the pairs' shared columns
    end = np.minimum(runs.x1[lower], runs.x1[upper])
    top_run, top_start, top_end = _uncovered(lower, start, end, runs)
    by_upper = np.argsort(upper, kind='stable')
    bottom_run, bottom_start, bottom_end = _uncovered(upper[by_upper], start[by_upper],
                                                      end[by_upper], runs)
    every, y = np.arange(len(runs)), runs.y
    top_y, bottom_y = y[top_run], y[bottom_run] + 1
    return np.concatenate([
        _segment_rows(top_run, top_start, top_y, top_end, top_y, RIGHT),
        _segment_rows(every, runs.x1, y, runs.x1, y + 1, DOWN),
        _segment_rows(bottom_run, bottom_end, bottom_y, bottom_start, bottom_y, LEFT),
        _segment_rows(every, runs.x0, y + 1, runs.x0, y, UP)])


def _segment_rows(run, start_x, start_y, end_x, end_y, direction: int) -> np.ndarray:
    return np.column_stack([run, start_x, start_y, end_x, end_y,
                            np.full(len(run), direction)]).astype(np.int64)


def _rings(segments: np.ndarray, owner: np.ndarray, bbox: np.ndarray
           ) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Chain the segments of each owner (bbox ``(x0, y0, x1, y1)`` by owner) into rings.

    Returns:
        ``(corners (n, 2) int32, each ring's first corner, each ring's owner,
        each ring's doubled signed area)``, the rings of an owner together.
    """
    # A key per (owner, vertex): vertices numbered inside their owner's bbox.
    spans = (bbox[:, 2] - bbox[:, 0] + 1)
    offset = np.concatenate([[0], np.cumsum(spans * (bbox[:, 3] - bbox[:, 1] + 1))])

    def key(x, y):
        return offset[owner] + (y - bbox[owner, 1]) * spans[owner] + (x - bbox[owner, 0])

    direction = segments[:, 5]
    starts = key(segments[:, 1], segments[:, 2]) * 4 + direction
    order = np.argsort(starts)
    segments, owner, direction, starts = (a[order] for a in (segments, owner, direction,
                                                             starts))
    ends = key(segments[:, 3], segments[:, 4]) * 4  # the vertex, any direction
    following = np.minimum(np.searchsorted(starts, ends), len(starts) - 1)
    if (starts[following] // 4 != ends // 4).any():
        raise RuntimeError('outline segments do not close into rings')
    # Two segments leave a vertex where the object touches itself diagonally:
    # take the right turn, which keeps each ring on its side of the contact.
    second = np.minimum(following + 1, len(starts) - 1)
    junction = (second > following) & (starts[second] < ends + 4)
    right_turn = direction[second] == (direction + 1) % 4
    following[junction & right_turn] += 1
    path, ring_start = _cycles_in_order(following)
    ring_last = np.append(ring_start[1:], len(path)) - 1
    d = direction[path]
    previous = np.roll(d, 1)
    previous[ring_start] = d[ring_last]
    corner = d != previous  # a vertex where the outline turns
    seg = segments[path]
    doubled_area = np.add.reduceat(seg[:, 1] * seg[:, 4] - seg[:, 3] * seg[:, 2], ring_start)
    corner_start = np.cumsum(corner)[ring_start] - corner[ring_start]
    corners = np.ascontiguousarray(seg[corner, 1:3], np.int32)
    return corners, corner_start, owner[path[ring_start]], doubled_area


def _cycles_in_order(following: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """The cycles of the permutation ``following`` as ``(elements in cycle order,
    where each cycle starts)``; cycles ordered by their smallest element, each
    starting there."""
    n = len(following)
    if (np.bincount(following, minlength=n) != 1).any():
        raise RuntimeError('outline segments do not close into rings')
    graph = csr_matrix((np.ones(n, np.int8), following, np.arange(n + 1)), shape=(n, n))
    _, cycle = connected_components(graph, directed=True, connection='strong')
    _, first = np.unique(cycle, return_index=True)
    first.sort()
    # One path through every cycle: each cycle's last element leads to the next's first.
    previous = np.empty(n, np.int64)
    previous[following] = np.arange(n)
    chained = following.copy()
    chained[previous[first]] = np.roll(first, -1)
    tail = previous[first[-1]]
    indptr = np.arange(n + 1) - (np.arange(n + 1) > tail)
    path = depth_first_order(csr_matrix((np.ones(n - 1, np.int8), np.delete(chained, tail),
                                         indptr), shape=(n, n)),
                             first[0], directed=True, return_predecessors=False)
    return path, np.flatnonzero(np.isin(path, first))


def _simplified(ring: np.ndarray, tolerance: float) -> np.ndarray:
    if tolerance <= 0:
        return ring
    points = cv2.approxPolyDP(ring, tolerance, True)
    return points[:, 0] if len(points) >= 3 else ring


def iter_objects(bands: Iterable[Tuple[int, np.ndarray]], width: int,
                 tolerance: float = 0.5) -> Iterator[SlideObject]:
    """Objects of a label mask given as consecutive row bands, each yielded as
    soon as a band ends below it: only the objects still open (touching the
    last row read) are held, with their runs.

    Args:
        bands: ``(first row, uint8 labels (h, width))`` in order, covering the mask.
        width: Mask width.
        tolerance: ``approxPolyDP`` epsilon in pixels (0: exact pixel outlines).

    Yields:
        One :class:`SlideObject` per 4-connected region of a nonzero class,
        numbered from 1 in the order they end (the band below their last row),
        objects ending in the same band by their first pixel.
    """
    held = _OpenObjects()
    next_id = 1
    for top, band in bands:
        finished = held.add_band(_band_runs(np.asarray(band), top), top, len(band), width)
        if finished is not None:
            yield from _objects(*finished, next_id, tolerance)
            next_id += len(np.unique(finished[3]))
    finished = held.finish()
    if finished is not None:
        yield from _objects(*finished, next_id, tolerance)


def trace_objects(bands: Iterable[Tuple[int, np.ndarray]], width: int,
                  tolerance: float = 0.5) -> List[SlideObject]:
    """:func:`iter_objects` as a list."""
    return list(iter_objects(bands, width, tolerance))


class _OpenObjects:
    """The runs of the objects that touch the last row read, the pairs of
    overlapping runs among them, and which object each run belongs to."""

    def __init__(self) -> None:
        self.runs = _Runs.empty()
        self.lower = self.upper = self.component = np.zeros(0, np.int64)

    def add_band(self, runs: _Runs, top: int, rows: int, width: int):
        """Join the runs of the band of ``rows`` rows from ``top`` to the open
        objects; the objects that end above the band's last row, as ``(runs,
        lower, upper, component)``, or None."""
        held = self.runs
        above = np.flatnonzero(held.y == top - 1)
        lower, upper = _overlaps(_Runs.concatenate([held.take(above), runs]), width)
        index = np.concatenate([above, len(held) + np.arange(len(runs))])
        lower, upper = index[lower], index[upper]
        # One graph node per open object, then one per band run.
        count = self.component.max(initial=-1) + 1
        node = np.concatenate([self.component, count + np.arange(len(runs))])
        nodes = count + len(runs)
        _, component = connected_components(
            csr_matrix((np.ones(len(lower), np.int8), (node[lower], node[upper])),
                       shape=(nodes, nodes)), directed=False)
        self.runs = _Runs.concatenate([held, runs])
        self.lower, self.upper = (np.concatenate(p) for p in ((self.lower, lower),
                                                              (self.upper, upper)))
        self.component = component[node]
        open_ = np.zeros(nodes, bool)
        open_[self.component[self.runs.y == top + rows - 1]] = True
        return self._split(open_[self.component])

    def finish(self):
        """Every object still open, as :meth:`add_band` returns them."""
        return self._split(np.zeros(len(self.runs), bool))

    def _split(self, keep: np.ndarray):
        """Keep the runs ``keep`` marks; the others (and their pairs) go."""
        if keep.all():
            return None
        done = ~keep
        finished = _subset(self.runs, self.lower, self.upper, self.component, done)
        self.runs, self.lower, self.upper, component = _subset(
            self.runs, self.lower, self.upper, self.component, keep)
        self.component = np.unique(component, return_inverse=True)[1].reshape(-1)
        return finished


def _subset(runs: _Runs, lower: np.ndarray, upper: np.ndarray, component: np.ndarray,
            chosen: np.ndarray):
    """The ``chosen`` runs, the pairs between them reindexed, their components."""
    index = np.full(len(runs), -1)
    index[chosen] = np.arange(chosen.sum())
    pairs = chosen[lower]  # a pair's runs are in one object: both chosen or neither
    return runs.take(chosen), index[lower[pairs]], index[upper[pairs]], component[chosen]


def _objects(runs: _Runs, lower: np.ndarray, upper: np.ndarray, component: np.ndarray,
             first_id: int, tolerance: float) -> List[SlideObject]:
    """Whole objects from their runs (raster order), pairs and component labels,
    numbered from ``first_id`` in order of their first run."""
    _, first, component = np.unique(component, return_index=True, return_inverse=True)
    n = len(first)
    rank = np.empty(n, np.int64)
    rank[np.argsort(first)] = np.arange(n)
    owner = rank[component.reshape(-1)]
    label, area, centroid, bbox = _statistics(runs, owner, n)
    segments = _segments(runs, lower, upper)
    corners, corner_start, ring_owner, doubled_area = _rings(
        segments, owner[segments[:, 0]], bbox)
    # Per object: the outer ring (the one with a positive area) first, then the holes.
    ring_order = np.lexsort((-doubled_area, ring_owner))
    bounds = np.append(corner_start, len(corners))
    rings = [_simplified(corners[a:b], tolerance) for a, b in
             zip(bounds[ring_order].tolist(), bounds[ring_order + 1].tolist())]
    object_start = np.searchsorted(ring_owner[ring_order], np.arange(n + 1)).tolist()
    bbox[:, 2:] -= bbox[:, :2]  # (x, y, width, height)
    return [SlideObject(first_id + k, *values, rings[object_start[k]:object_start[k + 1]])
            for k, values in enumerate(zip(label.tolist(), area.tolist(), centroid,
                                           map(tuple, bbox.tolist())))]


def _statistics(runs: _Runs, owner: np.ndarray, n: int):
    """Per object: class (array), area (array), centroid ((x, y) list) and bbox
    ``(x0, y0, x1, y1)`` (array), summed over its runs."""
    length = (runs.x1 - runs.x0).astype(np.float64)
    area = np.bincount(owner, length, n)
    centroid_x = np.bincount(owner, length * (runs.x0.astype(np.float64) + runs.x1) / 2, n)
    centroid_y = np.bincount(owner, length * (runs.y + 0.5), n)
    bbox = np.empty((n, 4), np.int64)
    bbox[:, :2], bbox[:, 2:] = np.iinfo(np.int64).max, np.iinfo(np.int64).min
    np.minimum.at(bbox[:, 0], owner, runs.x0)
    np.minimum.at(bbox[:, 1], owner, runs.y)
    np.maximum.at(bbox[:, 2], owner, runs.x1)
    np.maximum.at(bbox[:, 3], owner, runs.y + 1)
    label = np.empty(n, np.uint8)
    label[owner] = runs.label
    centroid = list(zip((centroid_x / area).tolist(), (centroid_y / area).tolist()))
    return label, area.astype(np.int64), centroid, bbox
