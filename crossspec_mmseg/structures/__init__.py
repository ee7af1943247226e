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
from .nucleus_contour_tree import NUCLEUS_CONTOUR_TREE, contour_node_map, with_boundary
from .nucleus_tree import NUCLEUS_CLASSES, NUCLEUS_TREE, nucleus_label_offset
from .typed_instances import TypedContourWatershed, instance_mean_probabilities

__all__ = ['INSTANCE_POSTPROCESSORS', 'MANIFEST_COLUMNS', 'META_COLUMNS', 'NUCLEUS_CLASSES',
           'NUCLEUS_CONTOUR_TREE', 'NUCLEUS_TREE', 'ConnectedComponents', 'ContourWatershed',
           'Filters', 'LabelTree', 'TypedContourWatershed', 'contour_node_map', 'count_components',
           'filter_rows', 'instance_mean_probabilities', 'nucleus_label_offset', 'read_manifest',
           'relabel', 'remove_small', 'with_boundary', 'write_manifest']
