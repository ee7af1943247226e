from ...structures import LabelTree
from .inverse_frequency import inverse_frequency_weights, weights_from_manifest
from .pixel_dice_losses import CEDiceLoss, FocalDiceLoss, HierarchicalFocalDiceLoss

__all__ = ['CEDiceLoss', 'FocalDiceLoss', 'HierarchicalFocalDiceLoss', 'LabelTree',
           'inverse_frequency_weights', 'weights_from_manifest']
