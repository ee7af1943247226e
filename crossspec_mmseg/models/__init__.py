from .backbones import FoundationViT
from .heads import StarDistHead
from .losses import CEDiceLoss, FocalDiceLoss, HierarchicalFocalDiceLoss, LabelTree
from .segmentors import (
    CrossSpeciesEncoderDecoder,
    ProbabilityTTAModel,
    StarDistSegmentor,
    StarDistTTAModel,
)

__all__ = ['CEDiceLoss', 'CrossSpeciesEncoderDecoder', 'FocalDiceLoss', 'FoundationViT',
           'HierarchicalFocalDiceLoss', 'LabelTree', 'ProbabilityTTAModel', 'StarDistHead',
           'StarDistSegmentor', 'StarDistTTAModel']
