from .slide_inference import (
    MASK_EXTENSIONS,
    SlidePrediction,
    TilePredictor,
    channel_argmax,
    check_mask_path,
    infer_slide,
)
from .stitching import BLENDS, BandAccumulator, ownership_bounds

__all__ = ['BLENDS', 'MASK_EXTENSIONS', 'BandAccumulator', 'SlidePrediction', 'TilePredictor',
           'channel_argmax', 'check_mask_path', 'infer_slide', 'ownership_bounds']
