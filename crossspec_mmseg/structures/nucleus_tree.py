"""The nucleus class tree and each nuclei dataset's label set as a cut of it.

Leaves (the head's 14 classes): background plus 13 nucleus types under four
super-classes (epithelial, immune, stromal, other); ``nucleus`` holds them
all. Lizard's plasma cells and eosinophils are leaves of their own under
immune (two dataset ids on one leaf would not be a partition, and CoNIC
scores them as classes); ``other_immune`` keeps the immune cells no dataset
names (e.g. mast cells). CoNSeP's "other" is ``nucleus`` as the tree's
unknown-type node: a detection label (docs/losses.md).

Use it as ``label_tree='nucleus'`` (loss) or ``LabelTree.build('nucleus')``;
a dataset declares ``label_offset=nucleus_label_offset('<dataset>')``.
"""
from __future__ import annotations

from typing import Dict, List, Tuple

__all__ = ['NAMED_TREES', 'NUCLEUS_CLASSES', 'NUCLEUS_TREE', 'nucleus_label_offset']

_LEAVES = ['background',
           'normal_epithelial', 'neoplastic_epithelial',
           'lymphocyte', 'macrophage', 'neutrophil', 'plasma', 'eosinophil', 'other_immune',
           'fibroblast', 'muscle', 'endothelial', 'other_stromal',
           'necrotic']

_NODES = dict(
    epithelial=['normal_epithelial', 'neoplastic_epithelial'],
    immune=['lymphocyte', 'macrophage', 'neutrophil', 'plasma', 'eosinophil', 'other_immune'],
    stromal=['fibroblast', 'muscle', 'endothelial', 'other_stromal'],
    other=['necrotic'],
    nucleus=['epithelial', 'immune', 'stromal', 'other'])

#: What the background of a partial label set may hold: the nuclei it never labels.
_BACKGROUNDS = dict(
    monusac_background=['background', 'stromal', 'plasma', 'eosinophil', 'other_immune',
                        'other'],
    lizard_background=['background', 'macrophage', 'other_immune', 'other'])

#: Per dataset, in its own id order: (its class name, the tree node it means).
NUCLEUS_CLASSES: Dict[str, Tuple[Tuple[str, str], ...]] = {
    'pannuke': (('background', 'background'), ('neoplastic', 'neoplastic_epithelial'),
                ('inflammatory', 'immune'), ('connective', 'stromal'), ('dead', 'other'),
                ('epithelial', 'normal_epithelial')),
    'consep': (('background', 'background'), ('other', 'nucleus'),
               ('inflammatory', 'immune'), ('healthy_epithelial', 'normal_epithelial'),
               ('malignant_epithelial', 'neoplastic_epithelial'), ('fibroblast', 'fibroblast'),
               ('muscle', 'muscle'), ('endothelial', 'endothelial')),
    'monusac': (('background', 'monusac_background'), ('epithelial', 'epithelial'),
                ('lymphocyte', 'lymphocyte'), ('neutrophil', 'neutrophil'),
                ('macrophage', 'macrophage')),
    'lizard': (('background', 'lizard_background'), ('neutrophil', 'neutrophil'),
               ('epithelial', 'epithelial'), ('lymphocyte', 'lymphocyte'), ('plasma', 'plasma'),
               ('eosinophil', 'eosinophil'), ('connective', 'stromal')),
    'nuinsseg': (('background', 'background'), ('nucleus', 'nucleus')),
}


def _label_sets() -> Dict[str, List[str]]:
    return {name: [node for _, node in classes] for name, classes in NUCLEUS_CLASSES.items()}


#: ``LabelTree(**NUCLEUS_TREE)``; a config may copy and edit it.
NUCLEUS_TREE = dict(leaves=_LEAVES, nodes=_NODES, backgrounds=_BACKGROUNDS, unknown='nucleus',
                    label_sets=_label_sets())

#: Trees :meth:`LabelTree.build` knows by name.
NAMED_TREES = {'nucleus': NUCLEUS_TREE}


def nucleus_label_offset(dataset: str) -> int:
    """The ``label_offset`` of a nuclei dataset (``'pannuke'``, ``'consep'``,
    ``'monusac'``, ``'lizard'``, ``'nuinsseg'``) in the nucleus tree."""
    if dataset not in NUCLEUS_CLASSES:
        raise KeyError(f'no nuclei dataset {dataset!r}; known: {list(NUCLEUS_CLASSES)}')
    names = list(NUCLEUS_CLASSES)
    return sum(len(NUCLEUS_CLASSES[n]) for n in names[:names.index(dataset)])
