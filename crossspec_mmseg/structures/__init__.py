"""Data types shared by converters, datasets, losses, metrics and inference:
the tile manifest, the label tree and instance maps."""
from .instances import (
    INSTANCE_POSTPROCESSORS,
    ConnectedComponents,
    ContourWatershed,
    count_components,
    relabel,
    remove_small,
)
from .label_tree import LabelTree
from .manifest import (
    MANIFEST_COLUMNS,
    META_COLUMNS,
    Filters,
    filter_rows,
    read_manifest,
    write_manifest,
)
from .nucleus_tree import NUCLEUS_CLASSES, NUCLEUS_TREE, nucleus_label_offset

__all__ = ['INSTANCE_POSTPROCESSORS', 'MANIFEST_COLUMNS', 'META_COLUMNS', 'NUCLEUS_CLASSES',
           'NUCLEUS_TREE', 'ConnectedComponents', 'ContourWatershed', 'Filters', 'LabelTree',
           'count_components', 'filter_rows', 'nucleus_label_offset', 'read_manifest', 'relabel',
           'remove_small', 'write_manifest']
