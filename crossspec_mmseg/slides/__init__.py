"""Slides as labs have them: reading by level and um/px, the window grid, the
tissue test and Kaggle RLE, shared by the converters and inference."""
from .grid import pad_square, resize_square, to_tile, window_positions
from .openslide_reader import OpenSlideReader, open_slide
from .reader import LevelReader, SlideLevel, SlideReader, SlideReadError
from .resolution import MPP_RANGE, SlideResolutionError, check_mpp, metadata_mpp
from .rle import RLEError, parse_rle, rle_decode, rle_decode_window, rle_encode
from .tissue import TissueMap, tissue_fraction

__all__ = ['MPP_RANGE', 'LevelReader', 'OpenSlideReader', 'RLEError', 'SlideLevel',
           'SlideReadError', 'SlideReader', 'SlideResolutionError', 'TissueMap', 'check_mpp',
           'metadata_mpp', 'open_slide', 'pad_square', 'parse_rle', 'resize_square', 'rle_decode',
           'rle_decode_window', 'rle_encode', 'tissue_fraction', 'to_tile', 'window_positions']
