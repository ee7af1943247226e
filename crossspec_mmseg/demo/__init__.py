from .synthetic import SPECIES_STYLES, TissueStyle, render_tissue, write_demo_tiles

__all__ = ['SPECIES_STYLES', 'TissueStyle', 'render_tissue', 'write_demo_tiles']
