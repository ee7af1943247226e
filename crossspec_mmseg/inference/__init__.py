from .slide_inference import SlidePrediction, infer_slide, predict_tiles
from .stitching import BLENDS, BandAccumulator, ownership_bounds

__all__ = ['BLENDS', 'BandAccumulator', 'SlidePrediction', 'infer_slide', 'ownership_bounds',
           'predict_tiles']
