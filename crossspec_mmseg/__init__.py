"""Cross-species histopathology segmentation for MMSegmentation 1.x.

Importing the package registers every component in MMSeg/mmengine registries,
so a config only needs::

    custom_imports = dict(imports=['crossspec_mmseg'], allow_failed_imports=False)
"""
from . import datasets, engine, evaluation, models, samplers  # noqa: F401  (registration)
from .engine import register_checkpoint_safe_globals
from .version import __version__

register_checkpoint_safe_globals()

__all__ = ['__version__']
