from .losses import (
    CEDiceLoss,
    FocalDiceLoss,
    HierarchicalFocalDiceLoss,
    LabelTree,
    inverse_frequency_weights,
    weights_from_manifest,
)
from .segmentors import CrossSpeciesEncoderDecoder

__all__ = ['CEDiceLoss', 'CrossSpeciesEncoderDecoder', 'FocalDiceLoss',
           'HierarchicalFocalDiceLoss', 'LabelTree', 'inverse_frequency_weights',
           'weights_from_manifest']
