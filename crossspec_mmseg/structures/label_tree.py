"""Label trees: one head predicting leaves, datasets labelled at coarser levels.

A tree has leaves (the head's classes), nodes (named inner nodes: their
children are leaves or other nodes, each with one parent), optional
background groups (the background leaf plus what a partial label set never
labels) and label sets (per dataset, the nodes its label ids mean, in the
dataset's own id order). Each label set partitions the leaves, with one
exception: the declared ``unknown`` node ("a nucleus, type unknown") may
overlap the other nodes of a set; there it is a *detection* label (see
docs/losses.md). Targets are encoded in one *node id* space: label ``j`` of
label set ``k`` is node ``offset[k] + j``, so a dataset whose set is not the
first one declares ``label_offset=offset[k]`` (:meth:`LabelTree.offset_of`)
and its masks need no rewriting.

Example (mouse kidney layers vs human cortex/medulla)::

    dict(leaves=['background', 'cortex', 'outer_stripe', 'inner_stripe', 'inner_medulla'],
         nodes=dict(medulla=['outer_stripe', 'inner_stripe', 'inner_medulla']),
         label_sets=dict(mouse=['background', 'cortex', 'outer_stripe', 'inner_stripe',
                                'inner_medulla'],
                         human=['background', 'cortex', 'medulla']))

The nuclei tree ships with the package: ``LabelTree.build('nucleus')``
(:mod:`.nucleus_tree`).
"""
from __future__ import annotations

from typing import Dict, List, Mapping, Optional, Sequence, Union

import torch

from ..utils.deprecation import renamed_keyword

__all__ = ['LabelTree']


def _fail(message: str):
    raise ValueError(f'label tree: {message}')


class LabelTree:
    """A validated class tree.

    Args:
        leaves: The head's classes, in output-channel order; the first is
            the background.
        nodes: Node name -> its children (leaves or other nodes). Every leaf
            and node has at most one parent.
        label_sets: Set name -> node names (leaves, nodes or background
            groups), in label-id order. Default: one set, the leaves.
        backgrounds: Background group name -> its members (the background
            leaf plus leaves or nodes a partial label set never labels, e.g.
            MoNuSAC's stromal nuclei). They may cut across nodes.
        unknown: The node that may overlap the other nodes of a label set
            (a label meaning "one of these, type unknown").
        groups: Old name of ``nodes`` (one release, ``DeprecationWarning``).

    Raises:
        ValueError: a name that is duplicated or unknown, a child under two
            nodes, a node containing itself, or a label set that does not
            partition the leaves (the message names the set and the nodes or
            leaves at fault).
    """

    def __init__(self, leaves: Sequence[str], nodes: Optional[Mapping[str, Sequence[str]]] = None,
                 label_sets: Optional[Mapping[str, Sequence[str]]] = None, *,
                 backgrounds: Optional[Mapping[str, Sequence[str]]] = None,
                 unknown: Optional[str] = None,
                 groups: Optional[Mapping[str, Sequence[str]]] = None) -> None:
        nodes = renamed_keyword('LabelTree', 'groups', 'nodes', groups, nodes, {})
        self.leaves = list(leaves)
        if not self.leaves or len(set(self.leaves)) != len(self.leaves):
            _fail(f'leaves must be distinct and not empty, got {self.leaves}')
        self.nodes = {name: list(children) for name, children in nodes.items()}
        self.backgrounds = {name: list(m) for name, m in (backgrounds or {}).items()}
        self.unknown = unknown
        self._members: Dict[str, List[int]] = {leaf: [i] for i, leaf in enumerate(self.leaves)}
        self._check_nodes()
        self._check_backgrounds()
        if unknown is not None and unknown not in self.nodes:
            _fail(f'unknown={unknown!r} is not a node of the tree (nodes: {list(self.nodes)})')
        self.label_sets = {k: list(v) for k, v in (label_sets or {'leaves': self.leaves}).items()}
        self._build_label_sets()

    # -- validation ---------------------------------------------------------------------------

    def _check_nodes(self) -> None:
        parent: Dict[str, str] = {}
        for name, children in self.nodes.items():
            if name in self.leaves:
                _fail(f'node {name!r} has the name of a leaf')
            unknown = [c for c in children if c not in self.leaves and c not in self.nodes]
            if unknown or not children:
                _fail(f'node {name!r} has unknown or no children {unknown}')
            for child in children:
                if child in parent:
                    _fail(f'{child!r} is under two nodes, {parent[child]!r} and {name!r} '
                          '(a tree gives each leaf or node one parent)')
                parent[child] = name
        for name in self.nodes:
            self._resolve(name, ())

    def _resolve(self, name: str, path: tuple) -> List[int]:
        """The leaf indices under ``name`` (cached), refusing cycles."""
        if name in path:
            _fail(f'node {name!r} contains itself ({" -> ".join(path + (name,))})')
        if name not in self._members:
            found = [i for c in self.nodes[name] for i in self._resolve(c, path + (name,))]
            self._members[name] = sorted(found)
        return self._members[name]

    def _check_backgrounds(self) -> None:
        for name, members in self.backgrounds.items():
            if name in self._members:
                _fail(f'background group {name!r} has the name of a leaf or node')
            unknown = [m for m in members if m not in self._members]
            if unknown or self.leaves[0] not in members:
                _fail(f'background group {name!r} must hold the background leaf '
                      f'{self.leaves[0]!r} and known leaves or nodes (unknown: {unknown})')
            leaves = [i for m in members for i in self._members[m]]
            if len(set(leaves)) != len(leaves):
                _fail(f'background group {name!r} holds a leaf twice: {members}')
            self._members[name] = sorted(leaves)

    def _build_label_sets(self) -> None:
        self.offsets: Dict[str, int] = {}
        self.node_names: List[str] = []
        rows: List[List[int]] = []
        set_ids: List[int] = []
        detection: List[bool] = []
        for set_index, (name, entries) in enumerate(self.label_sets.items()):
            self.offsets[name] = len(rows)
            overlapping = self._check_partition(name, entries)
            for entry in entries:
                self.node_names.append(entry)
                rows.append(self._members[entry])
                set_ids.append(set_index)
                detection.append(entry == self.unknown and overlapping)
        self.node_leaves = rows
        self.node_set = torch.tensor(set_ids)
        self.detection_only = torch.tensor(detection, dtype=torch.bool)
        matrix = torch.zeros(len(rows), len(self.leaves))
        for r, members in enumerate(rows):
            matrix[r, members] = 1
        self.matrix = matrix

    def _check_partition(self, name: str, entries: Sequence[str]) -> bool:
        """Check that set ``name`` partitions the leaves; whether its unknown
        node overlaps the other entries (then it is a detection label)."""
        owner: Dict[int, str] = {}
        for entry in entries:
            if entry not in self._members:
                _fail(f'label set {name!r}: {entry!r} is neither a leaf, a node nor a '
                      'background group')
            if entry == self.unknown:
                continue
            for leaf in self._members[entry]:
                if leaf in owner:
                    _fail(f'label set {name!r}: {entry!r} overlaps {owner[leaf]!r} (leaf '
                          f'{self.leaves[leaf]!r}); only the unknown-type node may overlap')
                owner[leaf] = entry
        unknown = self._members[self.unknown] if self.unknown in entries else []
        if list(entries).count(self.unknown) > 1:
            _fail(f'label set {name!r}: {self.unknown!r} appears twice')
        missing = [self.leaves[i] for i in range(len(self.leaves))
                   if i not in owner and i not in unknown]
        if missing:
            _fail(f'label set {name!r} must cover every leaf: missing {missing} (add them to a '
                  'node of the set or to a background group)')
        return any(i in owner for i in unknown)

    # -- queries ------------------------------------------------------------------------------

    @classmethod
    def flat(cls, num_classes: int) -> 'LabelTree':
        """The trivial tree: leaves only, one label set."""
        return cls([str(i) for i in range(num_classes)])

    @classmethod
    def build(cls, spec: Union[str, Mapping, 'LabelTree']) -> 'LabelTree':
        """A tree from a config value: a :class:`LabelTree`, its keyword dict,
        or the name of a tree shipped with the package (``'nucleus'``)."""
        if isinstance(spec, LabelTree):
            return spec
        if isinstance(spec, str):
            from .nucleus_tree import NAMED_TREES
            if spec not in NAMED_TREES:
                raise ValueError(f'no label tree named {spec!r}; known: {sorted(NAMED_TREES)}')
            return cls(**NAMED_TREES[spec])
        return cls(**spec)

    @property
    def num_nodes(self) -> int:
        return len(self.node_leaves)

    @property
    def is_flat(self) -> bool:
        return self.num_nodes == len(self.leaves) and all(
            members == [i] for i, members in enumerate(self.node_leaves))

    @property
    def groups(self) -> Dict[str, List[str]]:
        """Old view: every node and background group -> its leaf names."""
        return {name: [self.leaves[i] for i in self._members[name]]
                for name in [*self.nodes, *self.backgrounds]}

    def leaves_of(self, name: str) -> List[str]:
        """The leaf names under a leaf, node or background group."""
        if name not in self._members:
            raise KeyError(f'{name!r} is not a leaf, node or background group of the tree')
        return [self.leaves[i] for i in self._members[name]]

    def offset_of(self, label_set: str) -> int:
        """The ``label_offset`` a dataset labelled with ``label_set`` declares."""
        if label_set not in self.offsets:
            raise KeyError(f'no label set {label_set!r}; known: {list(self.offsets)}')
        return self.offsets[label_set]

    def leaf_to_label(self, label_set: str) -> torch.Tensor:
        """Per leaf, the label id (within ``label_set``) of the node holding it:
        a partitioning node first, else the set's unknown-type node."""
        offset = self.offset_of(label_set)
        ids = range(len(self.label_sets[label_set]))
        mapping = torch.full((len(self.leaves),), -1, dtype=torch.long)
        # Partitioning nodes first, then the unknown-type node fills what is left.
        for j in sorted(ids, key=lambda j: bool(self.detection_only[offset + j])):
            leaves = torch.tensor(self.node_leaves[offset + j])
            mapping[leaves] = torch.where(mapping[leaves] < 0, j, mapping[leaves])
        return mapping

    def node_class_weight(self, leaf_weight: Optional[Sequence[float]]) -> torch.Tensor:
        """Per-node weights: a coarse node gets the mean of its leaves' weights."""
        leaf = torch.ones(len(self.leaves)) if leaf_weight is None else torch.as_tensor(
            leaf_weight, dtype=torch.float32)
        if leaf.numel() != len(self.leaves):
            raise ValueError(f'class_weight has {leaf.numel()} values for '
                             f'{len(self.leaves)} classes')
        return torch.stack([leaf[m].mean() for m in self.node_leaves])
