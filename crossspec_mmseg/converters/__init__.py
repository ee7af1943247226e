"""Raw public downloads -> tiles + masks + manifest (library code; CLIs in
tools/dataset_converters/)."""
from .consep import CONSEP_CLASSES, convert_consep
from .hubmap import ANATOMY_CLASSES, convert_hubmap, load_features
from .lizard import convert_lizard
from .monusac import MONUSAC_CLASSES, convert_monusac
from .nuclei import NucleiImage, NucleusLabels, convert_nuclei, held_out, resample_nuclei
from .nuinsseg import convert_nuinsseg, discover_nuinsseg, kfold_assignments
from .orbit import SLIDE_TABLE_CSV, convert_orbit, match_annotations, read_orbit_db
from .orbit_blob import OrbitBlobError, OrbitShape, decode_orbit_blob
from .pannuke import convert_pannuke
from .raster import ImageReadError, PolygonSet
from .tiling import ConversionSummary, SourceImage, TilingConfig, convert_sources

__all__ = ['ANATOMY_CLASSES', 'CONSEP_CLASSES', 'MONUSAC_CLASSES', 'SLIDE_TABLE_CSV',
           'ConversionSummary', 'ImageReadError', 'NucleiImage', 'NucleusLabels',
           'OrbitBlobError', 'OrbitShape', 'PolygonSet', 'SourceImage', 'TilingConfig',
           'convert_consep', 'convert_hubmap', 'convert_lizard', 'convert_monusac',
           'convert_nuclei', 'convert_nuinsseg', 'convert_orbit', 'convert_pannuke',
           'convert_sources', 'decode_orbit_blob', 'discover_nuinsseg', 'held_out',
           'kfold_assignments', 'load_features', 'match_annotations', 'read_orbit_db',
           'resample_nuclei']
