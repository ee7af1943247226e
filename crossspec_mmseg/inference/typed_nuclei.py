"""Typed nuclei on whole slides (issue 26 §5): the nuclei of a typed model,
decided per tile, each kept once, typed in a label set of the class tree,
streamed out as the tiles finish.

A model is typed when it decides instances itself (``docs/nuclei.md``):

* route a, ``CrossSpeciesEncoderDecoder(instance_postprocess=dict(type=
  'TypedContourWatershed'))``: per batch of tiles the softmax, the nucleus
  sum and the two tests of :class:`~crossspec_mmseg.structures.
  TypedContourWatershed` (interiors, nucleus pixels) run on the model's
  device; only those two masks (one byte per pixel) cross to the host,
  where the watershed runs; each instance's mean probabilities are summed
  on the device again from the instance ids (only ``K x leaves`` floats come
  back). The result equals the post-processor's on the same probabilities
  (tested). Another ``instance_postprocess`` is called as the segmentor
  calls it, on the host;
* route b, :class:`~crossspec_mmseg.models.StarDistSegmentor`: its own
  functions, ``star_instances`` (candidates above ``prob_thresh`` chosen on
  the device, stardist's sparse polygon NMS) and ``instance_leaf_probs``,
  with the options of its ``test_cfg``. ``tta`` flips as its TTA model
  does: the maps flipped back, the rays permuted, the views averaged.

**Once per nucleus.** Instances are decided in each tile (at the model's
input resolution, then mapped to level 0 by nearest resizing) and a nucleus
is kept by the tile whose *core* holds its centroid: the window less half
the overlap on each inner side (the ranges of
:func:`~.stitching.ownership_bounds`, which partition the slide). Nothing is
re-traced from a class mask, so touching nuclei of one type stay apart. A
nucleus must fit in the overlap (at 0.5 overlap of a 512 px tile: 256 px)
to be seen whole by the tile that keeps it.

**Types.** Each instance's mean leaf probabilities (the tree's leaves) lose
the background leaf (the detection decided the nucleus; StarDist's own
default), are renormalised and summed into the nodes of the label set
asked for (:class:`NucleusTypes`: ``None`` is the leaves, else a label set
of the tree: a dataset, e.g. ``pannuke``); the type is the argmax. A nucleus
typed as the set's background (a partial set's background holds the types it
never labels: MoNuSAC's stromal nuclei) is not written, as the typed metric
drops it, and is counted in the summary's ``not_in_label_set``.

**Streaming.** Nuclei go to the GeoJSON and the CSV (:mod:`.typed_exports`)
as each tile finishes; the type map (the mask) and the ``nuclei`` channel of
the OME-TIFF are painted into a band of rows that is written to disk as soon
as no later tile row reaches it, so memory is one band of window rows, as
for class masks.
"""
from __future__ import annotations

import contextlib
import os
import os.path as osp
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Dict, Iterator, List, Mapping, Optional, Tuple, Union

import cv2
import numpy as np
import torch
from scipy import ndimage
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components
from skimage.segmentation import watershed
from tqdm import tqdm

from ..slides import (
    SlideSource,
    TissueMap,
    WindowGrid,
    check_positive,
    check_positive_int,
    open_slide,
    rle_encode,
)
from ..structures import LabelTree, TypedContourWatershed, remove_small
from ..structures.nucleus_tree import NUCLEUS_CLASSES, NUCLEUS_TREE
from .disk_mask import DiskMask
from .exports import OBJECT_TYPES, SlideOutputs
from .objects import _band_runs, _objects, _overlaps, _Runs
from .scratch import remove_dead_scratch, scratch_folder
from .slide_inference import (
    SlidePrediction,
    TilePredictor,
    _flip,
    _RowReader,
    _write_mask,
    check_mask_path,
)
from .stitching import ownership_bounds
from .typed_exports import (
    TypedNucleus,
    typed_csv_file,
    typed_geojson_file,
    write_nuclei_summary,
    write_typed_ome,
)

__all__ = ['NODE_COLOURS', 'NucleusTypes', 'TypedNuclei', 'config_route', 'contour_instances',
           'infer_typed_slide', 'typed_route']

#: QuPath colours of the nucleus tree's leaves, nodes and background groups
#: (PanNuke's viewer colours where it names the node).
NODE_COLOURS: Dict[str, List[int]] = dict(
    background=[0, 0, 0], monusac_background=[96, 96, 96], lizard_background=[96, 96, 96],
    nucleus=[160, 160, 160],
    epithelial=[255, 64, 0], normal_epithelial=[255, 128, 0], neoplastic_epithelial=[255, 0, 0],
    immune=[0, 255, 0], lymphocyte=[0, 170, 60], macrophage=[140, 220, 0],
    neutrophil=[0, 220, 170], plasma=[70, 120, 0], eosinophil=[210, 255, 110],
    other_immune=[0, 255, 0],
    stromal=[0, 0, 255], fibroblast=[0, 100, 255], muscle=[130, 0, 255],
    endothelial=[0, 200, 255], other_stromal=[90, 90, 210],
    other=[255, 255, 0], necrotic=[255, 255, 0])


def _colour(node: str) -> List[int]:
    if node in NODE_COLOURS:
        return list(NODE_COLOURS[node])
    rng = np.random.default_rng(sum(node.encode()))  # stable across runs
    return rng.integers(40, 256, 3).tolist()


class NucleusTypes:
    """The label set nuclei are typed in: its class names and colours, and the
    sum of an instance's leaf probabilities into its labels.

    Args:
        tree: A :class:`~crossspec_mmseg.structures.LabelTree`, its keyword
            dict or a tree's name (``'nucleus'``).
        label_set: ``None`` (or ``'leaves'``): the tree's leaves; else one of
            its label sets (for the nucleus tree, a dataset: ``pannuke``,
            ``consep``, ``monusac``, ``lizard``, ``nuinsseg``), named as that
            dataset names its classes.

    Attributes:
        name: The label set (``'leaves'`` for the leaves).
        names, colours: Per label id: class name, ``[r, g, b]``.
        background: The label holding the background leaf.
        columns: The labels a nucleus can take (those holding a nucleus leaf;
            a detection-only label, such as CoNSeP's ``other``, holds none).
        matrix: ``(leaves, labels)`` 0/1, the background leaf's row zero.

    Raises:
        ValueError: an unknown label set (naming the known ones).
    """

    def __init__(self, tree: Union[str, Mapping, LabelTree] = 'nucleus',
                 label_set: Optional[str] = None) -> None:
        self.tree = LabelTree.build(tree)
        leaves = self.tree.leaves
        if label_set in (None, 'leaves'):
            self.name, nodes = 'leaves', list(leaves)
            leaf_label = np.arange(len(leaves))
        else:
            if label_set not in self.tree.label_sets:
                raise ValueError(f'no label set {label_set!r} in the tree; known: leaves (the '
                                 f'default), {", ".join(self.tree.label_sets)}')
            self.name, nodes = label_set, list(self.tree.label_sets[label_set])
            leaf_label = self.tree.leaf_to_label(label_set).numpy()
        names = list(nodes)
        own = NUCLEUS_CLASSES.get(self.name)  # a dataset of the nucleus tree: its class names
        if own and [node for _, node in own] == nodes and self.tree.leaves == NUCLEUS_TREE[
                'leaves']:
            names = [name for name, _ in own]
        self.nodes, self.names = nodes, names
        self.colours = [_colour(node) for node in nodes]
        matrix = np.zeros((len(leaves), len(nodes)), np.float32)
        matrix[np.arange(len(leaves)), leaf_label] = 1
        self.background = int(leaf_label[0])
        matrix[0] = 0  # the background leaf: the detection decided the nucleus
        self.columns = [j for j in range(len(nodes)) if matrix[:, j].any()]
        self.matrix = matrix

    @property
    def num_leaves(self) -> int:
        return self.matrix.shape[0]

    def classify(self, leaf_probs) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(type (K,), probabilities (K, labels), typed (K,) bool)`` of
        instances with mean leaf probabilities ``(K, leaves)`` (a tensor on any
        device: only these ``K x leaves`` floats cross to the host). ``typed``
        is False for a nucleus whose type is the set's background (or that
        has no nucleus leaf)."""
        if isinstance(leaf_probs, torch.Tensor):
            leaf_probs = leaf_probs.detach().float().cpu().numpy()
        leaf_probs = np.asarray(leaf_probs, np.float32)
        if leaf_probs.ndim != 2 or leaf_probs.shape[1] != self.num_leaves:
            raise ValueError(f'the model gives {leaf_probs.shape[1:]} leaf probabilities per '
                             f'nucleus; the label tree has {self.num_leaves} leaves '
                             f'({", ".join(self.tree.leaves)})')
        probs = leaf_probs @ self.matrix
        total = probs.sum(1, keepdims=True)
        probs = np.divide(probs, total, out=probs, where=total > 0)
        types = probs.argmax(1) if len(probs) else np.zeros(0, np.int64)
        typed = (total[:, 0] > 0) & (types != self.background)
        return types, probs, typed


@dataclass(frozen=True)
class TypedNuclei:
    """A typed nuclei run's options (:func:`infer_typed_slide`).

    Args:
        label_set: The label set nuclei are typed in (:class:`NucleusTypes`;
            None: the tree's leaves).
        tree: The class tree of the model's leaves (default ``'nucleus'``).
        object_type: QuPath object type of the GeoJSON features.
        summary: Path of the per-slide summary JSON (None: not written; the
            summary is also :attr:`SlidePrediction.nuclei`).

    Raises:
        ValueError: an unknown label set or object type.
    """

    label_set: Optional[str] = None
    tree: Union[str, Mapping] = 'nucleus'
    object_type: str = 'detection'
    summary: Optional[str] = None

    def __post_init__(self) -> None:
        if self.object_type not in OBJECT_TYPES:
            raise ValueError(f'object_type must be one of {OBJECT_TYPES}, got '
                             f'{self.object_type!r}')
        self.types()

    def types(self) -> NucleusTypes:
        return NucleusTypes(self.tree, self.label_set)


def typed_route(model) -> Optional[str]:
    """``'stardist'`` (a StarDist segmentor: ``n_rays`` and ``postprocess_cfg``),
    ``'contour'`` (an ``instance_postprocess``) or None (a class-mask model)."""
    if hasattr(model, 'n_rays') and hasattr(model, 'postprocess_cfg'):
        return 'stardist'
    if getattr(model, 'instance_postprocess', None) is not None:
        return 'contour'
    return None


def config_route(model_cfg: Mapping) -> Optional[str]:
    """:func:`typed_route` of a config's ``model`` dict, without building it."""
    kind = model_cfg.get('type')
    if isinstance(kind, str):
        from mmseg.registry import MODELS

        from ..models import StarDistSegmentor
        found = MODELS.get(kind) if '.' not in kind else MODELS.get(kind.split('.')[-1])
        if found is not None and isinstance(found, type) and issubclass(found,
                                                                        StarDistSegmentor):
            return 'stardist'
    elif isinstance(kind, type) and kind.__name__ == 'StarDistSegmentor':
        return 'stardist'
    return 'contour' if model_cfg.get('instance_postprocess') else None


# -- decoding instances per tile ---------------------------------------------------------------

def contour_instances(interior: np.ndarray, nuclear: np.ndarray,
                      post: TypedContourWatershed) -> np.ndarray:
    """:class:`TypedContourWatershed`'s instances from its two tests, made
    where the probabilities are: ``interior`` (``nucleus > p[boundary]`` and
    ``nucleus > p[background]``) and ``nuclear`` (``nucleus + p[boundary] >
    p[background]``); int32 ids 1..n, as the post-processor numbers them."""
    _, markers = cv2.connectedComponents(np.ascontiguousarray(interior, np.uint8),
                                         connectivity=post.connectivity, ltype=cv2.CV_32S)
    markers = remove_small(markers, post.min_marker)
    if not markers.any():
        return np.zeros(interior.shape, np.int32)
    seeds = markers > 0
    distance = ndimage.distance_transform_edt(~seeds)
    grown = watershed(distance, markers, mask=nuclear.astype(bool) | seeds)
    return remove_small(grown, post.min_size).astype(np.int32)


def instance_means(ids: np.ndarray, probs: torch.Tensor) -> torch.Tensor:
    """Per instance of ``ids`` (``(h, w)`` 1..K), the mean of each channel of
    ``probs`` ``(C, h, w)`` over its pixels, renormalised to sum 1 (rows of
    zeros stay zero), summed on the probabilities' device: ``(K, C)``."""
    count = int(ids.max(initial=0))
    if count == 0:
        return probs.new_zeros((0, probs.shape[0]))
    index = torch.from_numpy(np.ascontiguousarray(ids).reshape(-1).astype(np.int64)).to(
        probs.device)
    flat = probs.reshape(probs.shape[0], -1).float()
    sums = flat.new_zeros(count + 1, flat.shape[0]).index_add_(0, index, flat.T)
    area = torch.bincount(index, minlength=count + 1)[1:].clamp_min(1)
    means = sums[1:] / area[:, None]
    total = means.sum(1, keepdim=True)
    return torch.where(total > 0, means / total.clamp_min(1e-30), torch.zeros_like(means))


class _ContourDecoder:
    """Route a: instances and mean leaf probabilities per tile (module docstring)."""

    def __init__(self, model, predict: TilePredictor) -> None:
        self.post, self.predict = model.instance_postprocess, predict

    @torch.no_grad()
    def __call__(self, tiles: np.ndarray) -> Iterator[Tuple[int, np.ndarray, torch.Tensor]]:
        probs = self.predict(tiles).softmax(1)  # TTA: the log of the views' mean probabilities
        post = self.post
        if not isinstance(post, TypedContourWatershed):  # as the segmentor calls it
            host = probs.cpu().numpy()
            for i, tile in enumerate(host):
                ids, leaf_probs = post(tile)
                yield i, np.asarray(ids, np.int32), torch.as_tensor(leaf_probs)
            return
        background, boundary, leaves = post.channels(probs.shape[1])
        kept = [c for c in range(probs.shape[1]) if c != boundary]
        nucleus = probs[:, torch.as_tensor(leaves, device=probs.device)].sum(1)
        edge, back = probs[:, boundary], probs[:, background]
        masks = torch.stack([(nucleus > edge) & (nucleus > back), nucleus + edge > back], 1)
        masks = masks.to(torch.uint8).cpu().numpy()  # the batch's one device -> host copy
        del nucleus, edge, back
        for i in range(len(masks)):
            ids = contour_instances(masks[i, 0], masks[i, 1], post)
            yield i, ids, instance_means(ids, probs[i, kept])


class _StarDistDecoder:
    """Route b: the StarDist segmentor's own decoding per tile (module docstring)."""

    def __init__(self, model, predict: TilePredictor, tta: bool) -> None:
        from ..models.segmentors.stardist_segmentor import (
            instance_leaf_probs,
            ray_flip_permutation,
            star_instances,
        )
        self.star_instances, self.leaf_probs = star_instances, instance_leaf_probs
        self.n_rays, self.cfg, self.predict, self.tta = model.n_rays, model.postprocess_cfg, \
            predict, tta
        self.perms = {d: torch.as_tensor(ray_flip_permutation(self.n_rays, d))
                      for d in ('horizontal', 'vertical')} if tta else {}

    def maps(self, tiles: np.ndarray) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(object probability (N, h, w), distances (N, R, h, w), leaf logits
        (N, L, h, w))`` on the model's device; with ``tta`` the mean of the
        tile and its two flips (flipped back, rays permuted), the leaves as
        the log of their mean softmax."""
        predict, rays = self.predict, slice(1, 1 + self.n_rays)
        inputs, metas = predict.inputs(tiles)
        size = tiles.shape[2:]
        maps = predict._forward(inputs, metas, size)
        if not self.tta:
            return maps[:, 0].sigmoid(), maps[:, rays], maps[:, rays.stop:]
        prob, dist = maps[:, 0].sigmoid(), maps[:, rays].clone()
        leaves = maps[:, rays.stop:].softmax(1)
        for dim, direction in ((3, 'horizontal'), (2, 'vertical')):
            view = predict._forward(_flip(inputs, dim, size), metas, size).flip(dim)
            perm = self.perms[direction].to(view.device)
            prob += view[:, 0].sigmoid()
            dist += view[:, rays][:, perm]
            leaves += view[:, rays.stop:].softmax(1)
        return prob / 3, dist / 3, (leaves / 3).clamp_min(1e-30).log()

    @torch.no_grad()
    def __call__(self, tiles: np.ndarray) -> Iterator[Tuple[int, np.ndarray, torch.Tensor]]:
        prob, dist, leaves = self.maps(tiles)
        cfg = self.cfg
        for i in range(len(prob)):
            ids = self.star_instances(prob[i], dist[i], cfg['prob_thresh'], cfg['nms_thresh'],
                                      cfg['border'], cfg['candidate_stride'])
            leaf_probs, _ = self.leaf_probs(ids, leaves[i], cfg['types_include_background'])
            yield i, ids, leaf_probs


# -- keeping, painting and tracing nuclei ------------------------------------------------------

def _union(boxes: List[Tuple[int, int, int, int]]) -> Tuple[int, int, int, int]:
    """The box ``(x, y, w, h)`` holding all ``boxes``."""
    x0, y0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
    x1, y1 = max(b[0] + b[2] for b in boxes), max(b[1] + b[3] for b in boxes)
    return x0, y0, x1 - x0, y1 - y0


def _edge_pixels(ids: np.ndarray) -> np.ndarray:
    """Nucleus pixels with a 4-neighbour (inside the array) of another id."""
    edge = np.zeros(ids.shape, bool)
    rows = ids[1:] != ids[:-1]
    edge[1:] |= rows
    edge[:-1] |= rows
    cols = ids[:, 1:] != ids[:, :-1]
    edge[:, 1:] |= cols
    edge[:, :-1] |= cols
    return edge & (ids > 0)


class _TypedStitcher:
    """Keeps each tile's nuclei whose centroid its core holds, paints them into
    a band of the type map (and of the ``nuclei`` channel), and makes the
    :class:`TypedNucleus` records (outlines traced only when ``trace``)."""

    def __init__(self, width: int, height: int, window: int, xs: List[int], ys: List[int],
                 types: NucleusTypes, trace: bool, outline: bool, tolerance: float) -> None:
        self.width, self.height, self.window, self.ys = width, height, window, ys
        self.xs = xs
        self.x_own = ownership_bounds(xs, window, width)
        self.y_own = ownership_bounds(ys, window, height)
        self.types, self.trace, self.outline, self.tolerance = types, trace, outline, tolerance
        self.top = 0
        self.band = np.zeros((0, width), np.uint8)
        self.nuclei = np.zeros((0, width), np.uint8) if outline else None
        self.next_id = 1
        self.counts = np.zeros(len(types.names), np.int64)
        self.not_in_label_set = 0
        self.trace_seconds = 0.0

    def add(self, row: int, col: int, ids: np.ndarray, leaf_probs) -> List[TypedNucleus]:
        """The nuclei tile ``(row, col)`` keeps, from its instance ids (model
        input resolution) and their mean leaf probabilities."""
        x, y, window = self.xs[col], self.ys[row], self.window
        if ids.shape[0] != window or ids.shape[1] != window:  # to level 0, nearest
            ids = cv2.resize(np.ascontiguousarray(ids, np.int32), (window, window),
                             interpolation=cv2.INTER_NEAREST)
        ids = np.ascontiguousarray(ids[:self.height - y, :self.width - x], np.int32)
        types, probs, typed = self.types.classify(leaf_probs)
        count = len(types)
        runs = _band_runs(ids, 0)
        if len(runs) and int(runs.label.max()) > count:
            raise ValueError(f'instance ids up to {int(runs.label.max())} but {count} leaf '
                             'probability rows')
        length = (runs.x1 - runs.x0).astype(np.float64)
        area = np.bincount(runs.label, length, count + 1)
        with np.errstate(invalid='ignore', divide='ignore'):
            cx = np.bincount(runs.label, length * (runs.x0 + runs.x1) / 2, count + 1) / area + x
            cy = np.bincount(runs.label, length * (runs.y + 0.5), count + 1) / area + y
        (x_lo, x_hi), (y_lo, y_hi) = self.x_own[col], self.y_own[row]
        core = (area > 0) & (cx >= x_lo) & (cx < x_hi) & (cy >= y_lo) & (cy < y_hi)
        core[0] = False
        good = np.concatenate([[False], typed])
        self.not_in_label_set += int((core & ~good).sum())
        keep = core & good
        kept = np.flatnonzero(keep)
        labels = types[kept - 1]
        np.add.at(self.counts, labels, 1)
        lut = np.zeros(count + 1, np.uint8)
        lut[kept] = labels
        self._paint(y, x, ids, lut)
        if not self.trace or not len(kept):
            self.next_id += len(kept)
            return []
        began = time.perf_counter()
        parts = self._outlines(runs, keep, ids.shape[1], x, y)
        nuclei = []
        for k, label in zip(kept.tolist(), labels.tolist()):
            pieces = parts[k]
            box = pieces[0][1] if len(pieces) == 1 else _union([p[1] for p in pieces])
            nuclei.append(TypedNucleus(self.next_id, label, probs[k - 1], int(area[k]),
                                       (float(cx[k]), float(cy[k])), box,
                                       [p[0] for p in pieces]))
            self.next_id += 1
        self.trace_seconds += time.perf_counter() - began
        return nuclei

    def _outlines(self, runs: _Runs, keep: np.ndarray, width: int, x: int, y: int
                  ) -> Dict[int, List[tuple]]:
        """Per kept instance, its 4-connected pieces as ``(rings in level-0
        corners, (x, y, w, h))``, traced with :mod:`.objects` on its runs
        (moved to level 0 first: ``width`` is the tile's)."""
        sub = runs.take(keep[runs.label])
        sub = _Runs(sub.y + y, sub.x0 + x, sub.x1 + x, sub.label)
        lower, upper = _overlaps(sub, x + width)  # runs of one instance in consecutive rows
        n = len(sub)
        _, component = connected_components(
            csr_matrix((np.ones(len(lower), np.int8), (lower, upper)), shape=(n, n)),
            directed=False)
        plain = _Runs(sub.y, sub.x0, sub.x1, np.ones(n, np.uint8))
        pieces = _objects(plain, lower, upper, component, 1, self.tolerance)
        _, first = np.unique(component, return_index=True)
        owners = sub.label[np.sort(first)]  # _objects numbers pieces by their first run
        parts: Dict[int, List[tuple]] = {}
        for owner, piece in zip(owners.tolist(), pieces):
            parts.setdefault(owner, []).append((piece.rings, piece.bbox))
        return parts

    def _paint(self, y: int, x: int, ids: np.ndarray, lut: np.ndarray) -> None:
        h, w = ids.shape
        self._grow(y + h - self.top)
        label = lut[ids]
        chosen = label > 0
        rows = slice(y - self.top, y - self.top + h)
        region = self.band[rows, x:x + w]
        region[chosen] = label[chosen]
        if self.outline:
            value = np.where(_edge_pixels(ids), 2, 1).astype(np.uint8)
            self.nuclei[rows, x:x + w][chosen] = value[chosen]

    def _grow(self, rows: int) -> None:
        extra = rows - len(self.band)
        if extra > 0:
            self.band = np.concatenate([self.band, np.zeros((extra, self.width), np.uint8)])
            if self.outline:
                self.nuclei = np.concatenate([self.nuclei,
                                              np.zeros((extra, self.width), np.uint8)])

    def finish_row(self, row: int) -> Iterator[Tuple[int, np.ndarray, Optional[np.ndarray]]]:
        """``(first row, type map rows, nuclei channel rows or None)`` that no
        later tile row reaches."""
        final = self.ys[row + 1] if row + 1 < len(self.ys) else self.height
        n = final - self.top
        if n <= 0:
            return
        self._grow(n)
        yield self.top, self.band[:n], self.nuclei[:n] if self.outline else None
        self.band = self.band[n:]
        if self.outline:
            self.nuclei = self.nuclei[n:]
        self.top = final



def nuclei_summary(types: NucleusTypes, counts: np.ndarray, not_in_label_set: int,
                   tissue_px: float, mpp: Optional[float]) -> dict:
    """Count and density per mm^2 of tissue, per type and in all (densities
    None when the slide's um/px is unknown or it has no tissue)."""
    area = tissue_px * mpp ** 2 / 1e6 if mpp else None

    def density(count: int) -> Optional[float]:
        return count / area if area else None

    total = int(counts.sum())
    return dict(label_set=types.name, tissue_area_mm2=area, tissue_area_px=float(tissue_px),
                slide_mpp=mpp, nuclei=total, nuclei_per_mm2=density(total),
                types={types.names[j]: dict(id=j, count=int(counts[j]),
                                            per_mm2=density(int(counts[j])))
                       for j in types.columns},
                not_in_label_set=int(not_in_label_set))


def infer_typed_slide(model, slide: Union[str, SlideSource], out_path: str,
                      typed: TypedNuclei, tile: int = 512, overlap: float = 0.5,
                      scale: float = 1.0, blend: str = 'center', batch: int = 4,
                      min_tissue: float = 0.0, rle: bool = False,
                      count_class: Optional[int] = None, min_area: int = 0,
                      mpp: Optional[float] = None, base_mpp: Optional[float] = None,
                      outputs: Optional[SlideOutputs] = None, amp: bool = False,
                      channels_last: bool = False, tta: bool = False,
                      scratch_dir: Optional[str] = None,
                      timings: Optional[dict] = None) -> SlidePrediction:
    """:func:`~.slide_inference.infer_slide` for a typed model (module docstring);
    ``infer_slide(..., typed=TypedNuclei(...))`` calls it.

    Writes the type map to ``out_path`` (each kept nucleus's pixels hold its
    type's label id, 0 elsewhere), the per-slide summary to ``typed.summary``
    and, as ``outputs`` asks, the GeoJSON (detections), the objects CSV and the
    two-channel OME-TIFF (:mod:`.typed_exports`); ``outputs.tolerance``
    simplifies the outlines. ``count_class``: the number of nuclei of that
    type (``min_area`` does not apply); ``rle``: of the nuclei pixels.
    ``timings``, when given, receives the seconds spent on ``outlines``,
    ``geojson``, ``objects_csv``, ``ome_tiff`` and ``summary``.

    Raises:
        ValueError: as ``infer_slide``; a model that decides no instances; a
            ``blend`` other than ``center`` (each nucleus comes from one tile).
    """
    began = time.perf_counter()
    check_mask_path(out_path)
    grid = WindowGrid(tile, overlap, scale)
    check_positive_int('batch', batch)
    if mpp is not None:
        check_positive('mpp', mpp)
    if base_mpp is not None and not isinstance(slide, str):
        raise ValueError('base_mpp applies to a slide path: open_slide(path, base_mpp) for an '
                         'open slide')
    if blend != 'center':
        raise ValueError(f'blend={blend!r}: typed nuclei are not blended (each nucleus is kept '
                         'by the tile whose core holds its centroid); leave blend at center')
    route = typed_route(model)
    if route is None:
        raise ValueError('typed nuclei need a model that decides instances: a StarDist '
                         'segmentor, or instance_postprocess on CrossSpeciesEncoderDecoder')
    types = typed.types()
    outputs = outputs or SlideOutputs()
    times = dict(outlines=0.0, geojson=0.0, objects_csv=0.0, ome_tiff=0.0, summary=0.0)
    folder = osp.dirname(osp.abspath(out_path))
    scratch_dir = scratch_dir or folder
    run = skipped = 0
    with contextlib.ExitStack() as stack:
        reader = stack.enter_context(open_slide(slide, base_mpp)) if isinstance(slide, str) \
            else slide
        if mpp is not None:
            grid = WindowGrid.from_mpp(tile, overlap, reader.require_mpp(), mpp)
        os.makedirs(folder, exist_ok=True)
        remove_dead_scratch(scratch_dir)
        tmp = stack.enter_context(scratch_folder(scratch_dir, osp.basename(out_path)))
        pool = stack.enter_context(ThreadPoolExecutor(1))
        height, width = reader.shape
        xs, ys = grid.starts(reader.shape)
        window = grid.window
        predict = TilePredictor(model, amp, channels_last, tta and route == 'contour')
        decode = _ContourDecoder(model, predict) if route == 'contour' else \
            _StarDistDecoder(model, predict, tta)
        level = grid.level(reader)
        tissue = TissueMap(reader, window)  # the summary's tissue area; skipping if asked
        read_row = _RowReader(reader, grid, level, min_tissue, tissue if min_tissue > 0 else None)
        files = stack.enter_context(contextlib.ExitStack())  # closed once every tile is done
        sinks = []
        if outputs.geojson:
            sinks.append(('geojson', files.enter_context(
                typed_geojson_file(outputs.geojson, types, typed.object_type))))
        if outputs.objects_csv:
            sinks.append(('objects_csv', files.enter_context(
                typed_csv_file(outputs.objects_csv, types, reader.mpp))))
        stitch = _TypedStitcher(width, height, window, xs, ys, types, trace=bool(sinks),
                                outline=bool(outputs.ome_tiff), tolerance=outputs.tolerance)
        upcoming = pool.submit(read_row, 0)
        mask = stack.enter_context(DiskMask(osp.join(tmp, 'types.u8'), (height, width)))
        nuclei = stack.enter_context(DiskMask(osp.join(tmp, 'nuclei.u8'), (height, width))) \
            if outputs.ome_tiff else None
        try:
            for row in tqdm(range(len(ys)), desc=osp.basename(reader.path), unit='row',
                            disable=None):
                keep, inputs = upcoming.result()
                if row + 1 < len(ys):  # read the next row while the model runs on this one
                    upcoming = pool.submit(read_row, row + 1)
                for start in range(0, len(keep), batch):
                    for j, ids, leaf_probs in decode(inputs[start:start + batch]):
                        for nucleus in stitch.add(row, keep[start + j], ids, leaf_probs):
                            for name, add in sinks:  # streamed: written as the tile finishes
                                moment = time.perf_counter()
                                add(nucleus)
                                times[name] += time.perf_counter() - moment
                run += len(keep)
                skipped += len(xs) - len(keep)
                for first, types_band, nuclei_band in stitch.finish_row(row):
                    mask.write(first, types_band)
                    if nuclei is not None:
                        nuclei.write(first, nuclei_band)
        finally:
            upcoming.cancel()  # an error or Ctrl-C does not wait for one more band
        times['outlines'] = stitch.trace_seconds
        files.close()  # the GeoJSON and the CSV complete, renamed into place
        _write_mask(out_path, mask, reader.mpp)
        moment = time.perf_counter()
        if outputs.ome_tiff:
            write_typed_ome(outputs.ome_tiff, nuclei, mask, reader.mpp)
        times['ome_tiff'] = time.perf_counter() - moment
        moment = time.perf_counter()
        summary = nuclei_summary(types, stitch.counts, stitch.not_in_label_set,
                                 tissue.slide_fraction * height * width, reader.mpp)
        if typed.summary:
            write_nuclei_summary(typed.summary, summary)
        times['summary'] = time.perf_counter() - moment
        result = SlidePrediction(out_path, (height, width), run, skipped, reader.mpp, level,
                                 nuclei=summary)
        if rle:
            result.rle = rle_encode(mask.rows(0, height))
        if count_class is not None:
            result.count = int(stitch.counts[count_class]) if 0 <= count_class < len(
                stitch.counts) else 0
    result.export_seconds = sum(times.values())
    result.seconds = time.perf_counter() - began
    if timings is not None:
        timings.update(times)
    return result
