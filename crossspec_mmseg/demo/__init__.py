from .pyramids import PYRAMID_LAYOUTS, write_pyramid
from .raw_downloads import write_hubmap_raw, write_nuinsseg_raw, write_orbit_raw
from .synthetic import SPECIES_STYLES, TissueStyle, render_tissue

__all__ = ['PYRAMID_LAYOUTS', 'SPECIES_STYLES', 'TissueStyle', 'render_tissue', 'write_hubmap_raw',
           'write_nuinsseg_raw', 'write_orbit_raw', 'write_pyramid']
