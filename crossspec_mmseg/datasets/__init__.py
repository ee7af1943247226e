from .manifest import MANIFEST_COLUMNS, META_COLUMNS, filter_rows, read_manifest, write_manifest
from .manifest_dataset import CrossSpeciesSegDataset
from .sources import (GLOMERULUS_METAINFO, HuBMAPAnatomyDataset, HuBMAPDataset,
                      NuInsSegDataset, OrbitGlomeruliDataset)

__all__ = ['MANIFEST_COLUMNS', 'META_COLUMNS', 'CrossSpeciesSegDataset', 'GLOMERULUS_METAINFO',
           'HuBMAPAnatomyDataset', 'HuBMAPDataset', 'NuInsSegDataset', 'OrbitGlomeruliDataset',
           'filter_rows', 'read_manifest', 'write_manifest']
