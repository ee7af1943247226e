from .foundation_presets import PRESETS, FoundationPreset, get_preset
from .foundation_vit import FoundationViT

__all__ = ['FoundationPreset', 'FoundationViT', 'PRESETS', 'get_preset']
