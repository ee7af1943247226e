from ...structures import LabelTree
from .auto_weights import inverse_frequency_weights, weights_from_manifest
from .focal_dice import CEDiceLoss, FocalDiceLoss, HierarchicalFocalDiceLoss

__all__ = ['CEDiceLoss', 'FocalDiceLoss', 'HierarchicalFocalDiceLoss', 'LabelTree',
           'inverse_frequency_weights', 'weights_from_manifest']
