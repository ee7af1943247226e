from .exports import OBJECT_TYPES, SlideOutputs, write_outputs
from .objects import SlideObject, iter_objects, trace_objects
from .slide_inference import (
    MASK_EXTENSIONS,
    SlidePrediction,
    TilePredictor,
    amp_dtype,
    channel_argmax,
    check_mask_path,
    infer_slide,
)
from .stitching import BLENDS, BandAccumulator, ownership_bounds

__all__ = ['BLENDS', 'MASK_EXTENSIONS', 'OBJECT_TYPES', 'BandAccumulator', 'SlideObject',
           'SlideOutputs', 'SlidePrediction', 'TilePredictor', 'amp_dtype', 'channel_argmax',
           'check_mask_path',
           'infer_slide', 'iter_objects', 'ownership_bounds', 'trace_objects', 'write_outputs']
