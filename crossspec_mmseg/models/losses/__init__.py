from ...structures import LabelTree
from .pixel_dice_losses import CEDiceLoss, FocalDiceLoss, HierarchicalFocalDiceLoss

__all__ = ['CEDiceLoss', 'FocalDiceLoss', 'HierarchicalFocalDiceLoss', 'LabelTree']
