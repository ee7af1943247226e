from .losses import CEDiceLoss, FocalDiceLoss, HierarchicalFocalDiceLoss, LabelTree
from .segmentors import CrossSpeciesEncoderDecoder

__all__ = ['CEDiceLoss', 'CrossSpeciesEncoderDecoder', 'FocalDiceLoss',
           'HierarchicalFocalDiceLoss', 'LabelTree']
