from .heads import StarDistHead
from .losses import CEDiceLoss, FocalDiceLoss, HierarchicalFocalDiceLoss, LabelTree
from .segmentors import (
    CrossSpeciesEncoderDecoder,
    ProbabilityTTAModel,
    StarDistSegmentor,
    StarDistTTAModel,
)

__all__ = ['CEDiceLoss', 'CrossSpeciesEncoderDecoder', 'FocalDiceLoss',
           'HierarchicalFocalDiceLoss', 'LabelTree', 'ProbabilityTTAModel', 'StarDistHead',
           'StarDistSegmentor', 'StarDistTTAModel']
