from .manifest import MANIFEST_COLUMNS, META_COLUMNS, filter_rows, read_manifest, write_manifest
from .manifest_dataset import CrossSpeciesSegDataset

__all__ = ['MANIFEST_COLUMNS', 'META_COLUMNS', 'CrossSpeciesSegDataset', 'filter_rows',
           'read_manifest', 'write_manifest']
