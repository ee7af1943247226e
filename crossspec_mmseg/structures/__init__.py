"""Data types shared by losses, metrics and datasets."""
from .instances import (
    INSTANCE_POSTPROCESSORS,
    ConnectedComponents,
    ContourWatershed,
    relabel,
    remove_small,
)
from .label_tree import LabelTree

__all__ = ['INSTANCE_POSTPROCESSORS', 'ConnectedComponents', 'ContourWatershed', 'LabelTree',
           'relabel', 'remove_small']
