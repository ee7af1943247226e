"""The registered dataset of each source, with its label space.

Datasets meant to be mixed share one label space: HuBMAP and Orbit glomeruli
both use ``('background', 'glomerulus')`` with the same palette, so an
mmengine ``ConcatDataset`` of them is accepted.
"""
from mmseg.registry import DATASETS

from .manifest_dataset import CrossSpeciesSegDataset

__all__ = ['NuInsSegDataset', 'NuInsSegContourDataset', 'HuBMAPDataset', 'HuBMAPAnatomyDataset',
           'OrbitGlomeruliDataset', 'GLOMERULUS_METAINFO']

NUCLEUS_METAINFO = dict(classes=('background', 'nucleus'), palette=[[0, 0, 0], [255, 64, 64]])
GLOMERULUS_METAINFO = dict(classes=('background', 'glomerulus'),
                           palette=[[0, 0, 0], [64, 255, 64]])


@DATASETS.register_module()
class NuInsSegDataset(CrossSpeciesSegDataset):
    """NuInsSeg tiles (``tools/dataset_converters/nuinsseg.py``): 0 bg, 1 nucleus,
    255 vague area. ``split`` holds the official fold (``fold0``...``fold4``)."""

    METAINFO = NUCLEUS_METAINFO


@DATASETS.register_module()
class NuInsSegContourDataset(CrossSpeciesSegDataset):
    """NuInsSeg converted with ``--contour WIDTH``: 0 background, 1 nucleus
    interior, 2 boundary, 255 vague area (manifest column ``mask_contour``)."""

    METAINFO = dict(classes=('background', 'nucleus', 'boundary'),
                    palette=[[0, 0, 0], [255, 64, 64], [64, 64, 255]])

    def __init__(self, seg_map_column: str = 'mask_contour', **kwargs) -> None:
        super().__init__(seg_map_column=seg_map_column, **kwargs)


@DATASETS.register_module()
class HuBMAPDataset(CrossSpeciesSegDataset):
    """HuBMAP glomerulus tiles (``tools/dataset_converters/hubmap.py``)."""

    METAINFO = GLOMERULUS_METAINFO


@DATASETS.register_module()
class HuBMAPAnatomyDataset(CrossSpeciesSegDataset):
    """HuBMAP cortex/medulla tiles (converted with ``--anatomy``)."""

    METAINFO = dict(classes=('background', 'cortex', 'medulla'),
                    palette=[[0, 0, 0], [255, 160, 64], [64, 128, 255]])

    def __init__(self, seg_map_column: str = 'masks_anatomy', **kwargs) -> None:
        super().__init__(seg_map_column=seg_map_column, **kwargs)


@DATASETS.register_module()
class OrbitGlomeruliDataset(CrossSpeciesSegDataset):
    """Orbit mouse/rat glomerulus tiles (``tools/dataset_converters/orbit.py``);
    255 outside ROIs and inside exclusions."""

    METAINFO = GLOMERULUS_METAINFO
