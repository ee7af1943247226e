from .batch import (
    MULTIPART_EXTENSIONS,
    SLIDE_EXTENSIONS,
    OutputCollisionError,
    SlideJob,
    SlideSettings,
    clean_scratch,
    expand_slides,
    plan_slides,
    predict_slide,
    read_slide_list,
    run_slides,
    slide_name,
)
from .exports import OBJECT_TYPES, SlideOutputs, write_outputs
from .objects import SlideObject, iter_objects, trace_objects
from .scratch import remove_dead_scratch, scratch_folder
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
from .typed_exports import TYPED_CSV_COLUMNS, TypedNucleus
from .typed_nuclei import NucleusTypes, TypedNuclei, infer_typed_slide, typed_route

__all__ = ['BLENDS', 'MASK_EXTENSIONS', 'MULTIPART_EXTENSIONS', 'OBJECT_TYPES', 'SLIDE_EXTENSIONS',
           'TYPED_CSV_COLUMNS', 'BandAccumulator', 'NucleusTypes', 'OutputCollisionError',
           'SlideJob', 'SlideObject', 'SlideOutputs', 'SlidePrediction', 'SlideSettings',
           'TilePredictor', 'TypedNuclei', 'TypedNucleus', 'amp_dtype', 'channel_argmax',
           'check_mask_path', 'clean_scratch', 'expand_slides', 'infer_slide',
           'infer_typed_slide', 'iter_objects', 'ownership_bounds', 'plan_slides',
           'predict_slide', 'read_slide_list', 'remove_dead_scratch', 'run_slides',
           'scratch_folder', 'slide_name', 'trace_objects', 'typed_route', 'write_outputs']
