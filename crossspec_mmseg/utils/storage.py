"""Where a path lives: on this machine or behind an mmengine file backend.

MMSeg datasets take ``backend_args`` (``dict(backend='petrel')``, an HTTP or
S3 prefix in the path, any backend registered with
``mmengine.fileio.register_backend``); these helpers answer the two questions
the package asks of such a path before it reads it through
``mmengine.fileio``.
"""
from __future__ import annotations

import os.path as osp
from typing import Optional

from mmengine import fileio
from mmengine.fileio.backends import LocalBackend

__all__ = ['is_local', 'isfile']


def _backend(path: str, backend_args: Optional[dict]):
    return fileio.get_file_backend(path, backend_args=backend_args, enable_singleton=True)


def is_local(path: str, backend_args: Optional[dict] = None) -> bool:
    """Whether ``path`` is a file of this machine's file system (mmengine's
    local backend or a subclass of it, e.g. ``atomic_local``)."""
    if not backend_args and '://' not in str(path):
        return True
    return isinstance(_backend(path, backend_args), LocalBackend)


def isfile(path: str, backend_args: Optional[dict] = None) -> bool:
    """``mmengine.fileio.isfile``; ``True`` where the backend cannot tell
    (mmengine's HTTP, memcached and LMDB backends have no ``isfile``: a missing
    file then fails when it is read, with the backend's error)."""
    if not backend_args and '://' not in str(path):
        return osp.isfile(path)
    try:
        return bool(_backend(path, backend_args).isfile(path))
    except (AttributeError, NotImplementedError):
        return True
