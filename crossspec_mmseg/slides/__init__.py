"""Slides as labs have them: reading by level and um/px (any format of
:data:`~.formats.FORMATS` behind one :class:`SlideSource` interface), the
window grid, the tissue test and Kaggle RLE, shared by the converters and
inference."""
from .formats import FORMATS, open_slide
from .grid import (
    WindowGrid,
    check_positive,
    check_positive_int,
    pad_square,
    resize_square,
    to_tile,
    window_positions,
)
from .openslide_reader import OpenSlideReader
from .reader import LevelReader, SlideReader
from .resolution import MPP_RANGE, SlideResolutionError, check_mpp, metadata_mpp
from .rle import RLEError, parse_rle, rle_decode, rle_decode_window, rle_encode
from .source import NotThisFormat, SlideFormat, SlideLevel, SlideReadError, SlideSource
from .tissue import TissueMap, tissue_fraction

__all__ = ['FORMATS', 'MPP_RANGE', 'LevelReader', 'NotThisFormat', 'OpenSlideReader', 'RLEError',
           'SlideFormat', 'SlideLevel', 'SlideReadError', 'SlideReader', 'SlideResolutionError',
           'SlideSource', 'TissueMap', 'WindowGrid', 'check_mpp', 'check_positive',
           'check_positive_int', 'metadata_mpp', 'open_slide', 'pad_square', 'parse_rle',
           'resize_square', 'rle_decode', 'rle_decode_window', 'rle_encode', 'tissue_fraction',
           'to_tile', 'window_positions']
