"""The registered datasets of the nucleus-classification family.

Each reads a nuclei converter's manifest (``tools/dataset_converters/``):
``mask`` holds the dataset's own type ids (0 background, 255 ignore) and
``instance`` the 16-bit instance map, given to ``LoadInstanceMap`` as
``instance_path``. Label sets differ per dataset (a cut of the class tree in
``docs/datasets.md``); mixing them needs a label tree.
"""
from mmseg.registry import DATASETS

from ..structures.nucleus_tree import NUCLEUS_CLASSES
from .manifest_dataset import CrossSpeciesSegDataset

__all__ = ['PanNukeDataset', 'LizardDataset', 'CoNSePDataset', 'MoNuSACDataset']

_BACKGROUND = [0, 0, 0]


def _classes(dataset: str) -> tuple:
    """The dataset's class names in id order (the tree's one table of them)."""
    return tuple(name for name, _ in NUCLEUS_CLASSES[dataset])


@DATASETS.register_module()
class PanNukeDataset(CrossSpeciesSegDataset):
    """PanNuke patches (``pannuke.py``); ``fold`` is ``fold1``..``fold3``."""

    METAINFO = dict(
        classes=_classes('pannuke'),
        palette=[_BACKGROUND, [255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0],
                 [255, 128, 0]])


@DATASETS.register_module()
class LizardDataset(CrossSpeciesSegDataset):
    """Lizard or CoNIC tiles (``lizard.py``); colon at 20x (0.5 um/px)."""

    METAINFO = dict(
        classes=_classes('lizard'),
        palette=[_BACKGROUND, [0, 0, 255], [255, 0, 0], [0, 200, 0], [255, 128, 0],
                 [255, 0, 255], [0, 255, 255]])


@DATASETS.register_module()
class CoNSePDataset(CrossSpeciesSegDataset):
    """CoNSeP tiles (``consep.py``): the seven types as distributed."""

    METAINFO = dict(
        classes=_classes('consep'),
        palette=[_BACKGROUND, [128, 128, 128], [0, 200, 0], [255, 128, 128], [255, 0, 0],
                 [0, 255, 255], [0, 128, 255], [255, 0, 255]])


@DATASETS.register_module()
class MoNuSACDataset(CrossSpeciesSegDataset):
    """MoNuSAC tiles (``monusac.py``); ``Ambiguous`` regions are 255 (ignore).
    Other nuclei (e.g. stromal) lie in its background: the set is not exhaustive."""

    METAINFO = dict(
        classes=_classes('monusac'),
        palette=[_BACKGROUND, [255, 0, 0], [0, 200, 0], [0, 0, 255], [255, 255, 0]])
