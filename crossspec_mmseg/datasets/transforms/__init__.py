from .instances import LoadInstanceMap, PackSegInputsWithInstances
from .stain import RandomHEDJitter, StainNormalize
from .stain_target import StainTargetError, fit_stain_target, load_stain_target
from .star_targets import PackStarDistInputs, StarDistTargets
from .typed_contour import TypedContourTarget

__all__ = ['LoadInstanceMap', 'PackSegInputsWithInstances', 'PackStarDistInputs',
           'RandomHEDJitter', 'StainNormalize', 'StainTargetError', 'StarDistTargets',
           'TypedContourTarget', 'fit_stain_target', 'load_stain_target']
