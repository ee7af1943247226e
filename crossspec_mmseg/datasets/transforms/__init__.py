from .instances import LoadInstanceMap, PackSegInputsWithInstances
from .stain import RandomHEDJitter, StainNormalize
from .stain_target import StainTargetError, fit_stain_target, load_stain_target

__all__ = ['LoadInstanceMap', 'PackSegInputsWithInstances', 'RandomHEDJitter', 'StainNormalize',
           'StainTargetError', 'fit_stain_target', 'load_stain_target']
