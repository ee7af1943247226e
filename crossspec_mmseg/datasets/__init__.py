from .manifest import MANIFEST_COLUMNS, META_COLUMNS, filter_rows, read_manifest, write_manifest
from .manifest_dataset import CrossSpeciesSegDataset
from .regimes import REGIMES, analogous_organs, select_regime
from .sources import (
    GLOMERULUS_METAINFO,
    HuBMAPAnatomyDataset,
    HuBMAPDataset,
    NuInsSegContourDataset,
    NuInsSegDataset,
    OrbitGlomeruliDataset,
)
from .transforms import LoadInstanceMap, PackSegInputsWithInstances

__all__ = ['MANIFEST_COLUMNS', 'META_COLUMNS', 'CrossSpeciesSegDataset', 'GLOMERULUS_METAINFO',
           'HuBMAPAnatomyDataset', 'HuBMAPDataset', 'LoadInstanceMap', 'NuInsSegContourDataset',
           'NuInsSegDataset', 'OrbitGlomeruliDataset', 'PackSegInputsWithInstances', 'REGIMES',
           'analogous_organs', 'filter_rows', 'read_manifest', 'select_regime', 'write_manifest']
