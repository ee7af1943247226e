"""Raw public downloads -> tiles + masks + manifest (library code; CLIs in
tools/dataset_converters/)."""
from .hubmap import ANATOMY_CLASSES, convert_hubmap, load_features
from .nuinsseg import convert_nuinsseg, discover_nuinsseg, kfold_assignments
from .orbit import SLIDE_TABLE_CSV, convert_orbit, match_annotations, read_orbit_db
from .orbit_blob import OrbitBlobError, OrbitShape, decode_orbit_blob
from .raster import ImageReadError, PolygonSet
from .tiling import ConversionSummary, SourceImage, TilingConfig, convert_sources

__all__ = ['ANATOMY_CLASSES', 'SLIDE_TABLE_CSV', 'ConversionSummary', 'ImageReadError',
           'OrbitBlobError', 'OrbitShape', 'PolygonSet', 'SourceImage', 'TilingConfig',
           'convert_hubmap', 'convert_nuinsseg', 'convert_orbit', 'convert_sources',
           'decode_orbit_blob', 'discover_nuinsseg', 'kfold_assignments', 'load_features',
           'match_annotations', 'read_orbit_db']
