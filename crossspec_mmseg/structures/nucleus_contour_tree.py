"""The nucleus tree with a ``boundary`` leaf: the classes of a typed contour head.

A contour model (issue 26, route a: any stock MMSeg head) predicts per pixel
the background, each nucleus type (the leaves of the nucleus tree) and an
instance *boundary* class that keeps touching nuclei apart. Its tree,
``'nucleus_contour'``, is :data:`~.nucleus_tree.NUCLEUS_TREE` with

- one more leaf, ``boundary``, last (so the head's channels 0..13 are the
  nucleus tree's leaves in their order and channel 14 is the boundary);
- one more label per label set, ``boundary``, last: set ``k`` keeps its
  nodes and ids and gains the id ``len(set)``.

So the node ids of the two trees differ by the set's index: node ``j`` of
set ``k`` (``offset[k] + j`` in the nucleus tree) is ``offset[k] + k + j``
in the contour tree (:func:`contour_node_map`). Datasets keep declaring the
nucleus tree's ``label_offset`` (:func:`~.nucleus_tree.nucleus_label_offset`);
:class:`~crossspec_mmseg.datasets.transforms.TypedContourTarget` moves a
sample's labels into the contour tree and writes the boundary label after the
geometric augmentations, and the loss runs on ``label_tree='nucleus_contour'``.
Metrics score types on the nucleus tree (``label_tree='nucleus'``): the
boundary is a pixel class, not a nucleus type.

Importing this module registers the tree under its name for
:meth:`LabelTree.build` (``crossspec_mmseg.structures`` imports it).
"""
from __future__ import annotations

from typing import Dict, Mapping, Union

import numpy as np

from .label_tree import LabelTree
from .nucleus_tree import NAMED_TREES, NUCLEUS_TREE

__all__ = ['BOUNDARY', 'NUCLEUS_CONTOUR_TREE', 'contour_node_map', 'tree_spec', 'with_boundary']

#: Name of the boundary leaf (and of each label set's boundary label).
BOUNDARY = 'boundary'


def tree_spec(tree: Union[str, Mapping, LabelTree]) -> Dict:
    """The keyword dict of a tree given as a shipped name, a dict or a :class:`LabelTree`."""
    if isinstance(tree, str):
        if tree not in NAMED_TREES:
            raise ValueError(f'no label tree named {tree!r}; known: {sorted(NAMED_TREES)}')
        return dict(NAMED_TREES[tree])
    if isinstance(tree, LabelTree):
        return dict(leaves=tree.leaves, nodes=tree.nodes, backgrounds=tree.backgrounds,
                    unknown=tree.unknown, label_sets=tree.label_sets)
    return dict(tree)


def with_boundary(tree: Union[str, Mapping, LabelTree], boundary: str = BOUNDARY) -> Dict:
    """``tree`` (keyword dict, name or :class:`LabelTree`) with a ``boundary``
    leaf appended to its leaves and a ``boundary`` label to each label set."""
    spec = tree_spec(tree)
    leaves = list(spec['leaves'])
    if boundary in leaves or boundary in (spec.get('nodes') or {}):
        raise ValueError(f'the tree already has a leaf or node named {boundary!r}')
    sets = spec.get('label_sets') or {'leaves': leaves}
    out = {k: v for k, v in spec.items() if k not in ('leaves', 'label_sets', 'groups')}
    out['nodes'] = {k: list(v) for k, v in (spec.get('nodes') or spec.get('groups') or {}).items()}
    if spec.get('backgrounds'):
        out['backgrounds'] = {k: list(v) for k, v in spec['backgrounds'].items()}
    out['leaves'] = leaves + [boundary]
    out['label_sets'] = {name: list(entries) + [boundary] for name, entries in sets.items()}
    return out


def contour_node_map(tree: Union[str, Mapping, LabelTree] = 'nucleus') -> np.ndarray:
    """``lut[node]``: the node id in ``with_boundary(tree)`` of each node id of
    ``tree`` (label ``j`` of set ``k``: ``offset[k] + j`` -> ``offset[k] + k + j``)."""
    plain = LabelTree.build(tree_spec(tree))
    lut = np.arange(plain.num_nodes, dtype=np.int64)
    for k, (name, entries) in enumerate(plain.label_sets.items()):
        start = plain.offsets[name]
        lut[start:start + len(entries)] += k
    return lut


#: ``LabelTree(**NUCLEUS_CONTOUR_TREE)``: the nucleus tree plus the boundary
#: leaf and label (``label_tree='nucleus_contour'``).
NUCLEUS_CONTOUR_TREE = with_boundary(NUCLEUS_TREE)
NAMED_TREES.setdefault('nucleus_contour', NUCLEUS_CONTOUR_TREE)
