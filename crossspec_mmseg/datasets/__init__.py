from ..structures.manifest import (  # the tile record; exported here for MMSeg users too
    MANIFEST_COLUMNS,
    META_COLUMNS,
    filter_rows,
    read_manifest,
    write_manifest,
)
from .config_parts import dataset_parts, manifest_of
from .inverse_frequency import (
    inverse_frequency_weights,
    weights_from_dataset,
    weights_from_manifest,
)
from .manifest_dataset import CrossSpeciesSegDataset
from .nuclei import CoNSePDataset, LizardDataset, MoNuSACDataset, PanNukeDataset
from .regimes import REGIMES, analogous_organs, select_regime
from .sources import (
    GLOMERULUS_METAINFO,
    HuBMAPAnatomyDataset,
    HuBMAPDataset,
    NuInsSegContourDataset,
    NuInsSegDataset,
    OrbitGlomeruliDataset,
)
from .transforms import (
    LoadInstanceMap,
    PackSegInputsWithInstances,
    RandomHEDJitter,
    StainNormalize,
)

__all__ = ['MANIFEST_COLUMNS', 'META_COLUMNS', 'CoNSePDataset', 'CrossSpeciesSegDataset',
           'GLOMERULUS_METAINFO', 'HuBMAPAnatomyDataset', 'HuBMAPDataset', 'LizardDataset',
           'LoadInstanceMap', 'MoNuSACDataset', 'NuInsSegContourDataset', 'NuInsSegDataset',
           'OrbitGlomeruliDataset', 'PackSegInputsWithInstances', 'PanNukeDataset', 'REGIMES',
           'RandomHEDJitter', 'StainNormalize', 'analogous_organs', 'dataset_parts', 'filter_rows',
           'inverse_frequency_weights', 'manifest_of', 'read_manifest', 'select_regime',
           'weights_from_dataset', 'weights_from_manifest', 'write_manifest']
