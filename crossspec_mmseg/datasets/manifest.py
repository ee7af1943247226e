"""Deprecated: the tile manifest moved to :mod:`crossspec_mmseg.structures.manifest`
(also exported from :mod:`crossspec_mmseg.structures` and
:mod:`crossspec_mmseg.datasets`). Importing from here warns; this module goes in
the next release."""
from ..structures import manifest as _manifest
from ..utils.deprecation import moved_name


def __getattr__(name: str):
    return moved_name(__name__, _manifest, name)
