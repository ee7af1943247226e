"""The typed contour target: nucleus types plus an instance boundary class,
computed after the geometric augmentations (issue 26, route a)."""
from __future__ import annotations

from typing import Mapping, Optional, Union

import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS

from ...structures.label_tree import LabelTree
from ...structures.nucleus_contour_tree import BOUNDARY, contour_node_map, with_boundary

__all__ = ['TypedContourTarget']


@TRANSFORMS.register_module()
class TypedContourTarget(BaseTransform):
    """Rewrite ``gt_seg_map`` (nucleus types) into the typed contour target.

    Input: ``gt_seg_map`` in the node ids of ``label_tree`` (each dataset's
    own type ids plus its ``label_offset``, e.g.
    ``nucleus_label_offset('consep')``; 255 ignore) and ``gt_instance_map``
    (``LoadInstanceMap``), both after the geometric augmentations (flips,
    rotations, crops, resizes), since the boundary depends on the geometry.

    Output: ``gt_seg_map`` in the node ids of ``with_boundary(label_tree)``
    (``'nucleus_contour'`` for ``'nucleus'``): every label moves to the
    contour tree's id of the same label (:func:`contour_node_map`), and the
    pixels of a nucleus within ``width`` px of another id (another nucleus or
    the background: the rule of ``converters.nuinsseg.contour_target``, a
    ``2 * width + 1`` square neighbourhood; the tile's edge does not count)
    get the boundary label of the sample's label set. Ignored pixels (255)
    stay ignored, boundary or not; a sample's label set is the one its
    labels belong to (they must all belong to one).

    Args:
        width: Boundary width in pixels (at the training um/px).
        label_tree: The tree of the input labels (a shipped name, a keyword
            dict or a :class:`LabelTree`); the loss then uses
            ``with_boundary(label_tree)`` (for ``'nucleus'``:
            ``label_tree='nucleus_contour'``).
        ignore_index: The ignored label.
    """

    def __init__(self, width: int = 1, label_tree: Union[str, Mapping, LabelTree] = 'nucleus',
                 ignore_index: int = 255) -> None:
        from ...converters.nuinsseg import contour_target  # not imported with the package
        if width < 1:
            raise ValueError(f'TypedContourTarget: width must be >= 1 pixel, got {width}')
        self.width, self.ignore_index = int(width), ignore_index
        self._contour_target = contour_target
        plain = LabelTree.build(label_tree)
        contour = LabelTree.build(with_boundary(label_tree))
        self.lut = contour_node_map(label_tree)
        self.set_of_node = plain.node_set.numpy()
        names = list(contour.label_sets)
        self.boundary_ids = np.array([contour.offsets[n] + contour.label_sets[n].index(BOUNDARY)
                                      for n in names])
        self.set_names = names
        if int(self.lut.max()) >= ignore_index or int(self.boundary_ids.max()) >= ignore_index:
            raise ValueError(f'the contour tree has {contour.num_nodes} node ids, more than '
                             f'ignore_index={ignore_index} allows')

    def label_set(self, labels: np.ndarray, where: str = 'sample') -> Optional[int]:
        """The index of the label set of ``labels`` (None: every pixel ignored)."""
        valid = labels[labels != self.ignore_index].astype(np.int64)
        if not valid.size:
            return None
        if valid.max() >= len(self.lut) or valid.min() < 0:
            bad = sorted(set(valid[(valid < 0) | (valid >= len(self.lut))].tolist()))
            raise ValueError(f'{where}: labels {bad[:5]} are no node of the label tree '
                             f'({len(self.lut)} nodes); give the dataset its label_offset')
        sets = np.unique(self.set_of_node[valid])
        if len(sets) > 1:
            raise ValueError(f'{where}: labels of label sets '
                             f'{[self.set_names[s] for s in sets]} in one sample; give each '
                             "dataset its label_offset (nucleus_label_offset('<dataset>'))")
        return int(sets[0])

    def transform(self, results: dict) -> dict:
        if 'gt_instance_map' not in results:
            raise KeyError(f'{results.get("img_path", "sample")}: TypedContourTarget needs '
                           'gt_instance_map: put LoadInstanceMap before it (the manifest needs '
                           'its instance column)')
        labels = results['gt_seg_map']
        instances = results['gt_instance_map']
        if labels.shape != instances.shape:
            raise ValueError(f'{results.get("img_path", "sample")}: gt_seg_map {labels.shape} '
                             f'and gt_instance_map {instances.shape} differ in shape')
        label_set = self.label_set(labels, results.get('seg_map_path', 'sample'))
        if label_set is None:
            return results
        valid = labels != self.ignore_index
        out = np.where(valid, self.lut[np.where(valid, labels, 0)], self.ignore_index)
        edge = self._contour_target(instances, self.width) == 2
        out[edge & valid] = self.boundary_ids[label_set]
        results['gt_seg_map'] = out.astype(labels.dtype)
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(width={self.width}, ignore_index={self.ignore_index})'
