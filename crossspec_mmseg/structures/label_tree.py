"""Label trees: one head predicting leaves, datasets labelled at coarser levels.

A tree has leaves (the head's classes), groups (named sets of leaves) and
label sets (per dataset, the list of nodes its label ids mean; each set must
partition the leaves). Targets are encoded in one *node id* space: label ``j``
of label set ``k`` is node ``offset[k] + j``, so a dataset whose set is not
the first one declares ``label_offset=offset[k]`` (see
:meth:`LabelTree.offset_of`) and its masks need no rewriting.

Example (mouse kidney layers vs human cortex/medulla)::

    dict(leaves=['background', 'cortex', 'outer_stripe', 'inner_stripe', 'inner_medulla'],
         groups=dict(medulla=['outer_stripe', 'inner_stripe', 'inner_medulla']),
         label_sets=dict(mouse=['background', 'cortex', 'outer_stripe', 'inner_stripe',
                                'inner_medulla'],
                         human=['background', 'cortex', 'medulla']))
"""
from __future__ import annotations

from typing import Dict, List, Mapping, Optional, Sequence

import torch

__all__ = ['LabelTree']


class LabelTree:
    """A validated class tree.

    Args:
        leaves: The head's classes, in output-channel order.
        groups: Group name -> its leaves.
        label_sets: Set name -> node names (leaves or groups), in label-id
            order. Default: one set, the leaves themselves.

    Raises:
        ValueError: duplicate leaves, unknown names, a group overlapping a
            leaf name, or a label set that does not cover every leaf exactly
            once (the message names the set and the leaves at fault).
    """

    def __init__(self, leaves: Sequence[str], groups: Optional[Mapping[str, Sequence[str]]] = None,
                 label_sets: Optional[Mapping[str, Sequence[str]]] = None) -> None:
        self.leaves = list(leaves)
        if len(set(self.leaves)) != len(self.leaves):
            raise ValueError(f'label tree: duplicate leaves in {self.leaves}')
        self.groups = {name: list(members) for name, members in (groups or {}).items()}
        for name, members in self.groups.items():
            if name in self.leaves:
                raise ValueError(f'label tree: group {name!r} has the name of a leaf')
            unknown = [m for m in members if m not in self.leaves]
            if unknown or not members:
                raise ValueError(f'label tree: group {name!r} has unknown or no leaves {unknown}')
        self.label_sets = {k: list(v) for k, v in (label_sets or {'leaves': self.leaves}).items()}
        self.offsets: Dict[str, int] = {}
        rows: List[List[int]] = []
        set_ids: List[int] = []
        for set_index, (name, nodes) in enumerate(self.label_sets.items()):
            self.offsets[name] = len(rows)
            covered: List[str] = []
            for node in nodes:
                if node in self.leaves:
                    members = [node]
                elif node in self.groups:
                    members = self.groups[node]
                else:
                    raise ValueError(f'label set {name!r}: {node!r} is neither a leaf nor a group')
                covered += members
                rows.append([self.leaves.index(m) for m in members])
                set_ids.append(set_index)
            twice = sorted({c for c in covered if covered.count(c) > 1})
            missing = [leaf for leaf in self.leaves if leaf not in covered]
            if twice or missing:
                raise ValueError(f'label set {name!r} must cover every leaf once: '
                                 f'missing {missing}, repeated {twice}')
        self.node_leaves = rows
        self.node_set = torch.tensor(set_ids)
        matrix = torch.zeros(len(rows), len(self.leaves))
        for r, members in enumerate(rows):
            matrix[r, members] = 1
        self.matrix = matrix

    @classmethod
    def flat(cls, num_classes: int) -> 'LabelTree':
        """The trivial tree: leaves only, one label set."""
        return cls([str(i) for i in range(num_classes)])

    @property
    def num_nodes(self) -> int:
        return len(self.node_leaves)

    @property
    def is_flat(self) -> bool:
        return self.num_nodes == len(self.leaves) and all(
            members == [i] for i, members in enumerate(self.node_leaves))

    def offset_of(self, label_set: str) -> int:
        """The ``label_offset`` a dataset labelled with ``label_set`` declares."""
        return self.offsets[label_set]

    def node_class_weight(self, leaf_weight: Optional[Sequence[float]]) -> torch.Tensor:
        """Per-node weights: a group gets the mean of its leaves' weights."""
        leaf = torch.ones(len(self.leaves)) if leaf_weight is None else torch.as_tensor(
            leaf_weight, dtype=torch.float32)
        if leaf.numel() != len(self.leaves):
            raise ValueError(f'class_weight has {leaf.numel()} values for '
                             f'{len(self.leaves)} classes')
        return torch.stack([leaf[m].mean() for m in self.node_leaves])
