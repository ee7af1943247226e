from .losses import CEDiceLoss, FocalDiceLoss, HierarchicalFocalDiceLoss, LabelTree
from .segmentors import CrossSpeciesEncoderDecoder, ProbabilityTTAModel

__all__ = ['CEDiceLoss', 'CrossSpeciesEncoderDecoder', 'FocalDiceLoss',
           'HierarchicalFocalDiceLoss', 'LabelTree', 'ProbabilityTTAModel']
