"""Private attributes of mmengine and MMSeg that the package needs, each read
or written in one function here.

mmengine 0.10 has no public way to read or set the checkpoint a ``Runner``
will load (``load_from``) or whether it resumes, and MMSeg 1.2 none to ask a
``SegDataPreProcessor`` whether it normalizes. Each accessor names the
version and attribute it relies on and raises a ``RuntimeError`` saying so
where the attribute is gone, instead of a silent change of behaviour;
``tests/utils/test_upstream.py`` runs them on a real ``Runner`` and
``SegDataPreProcessor``, so an upgrade that drops one fails there first.
"""
from __future__ import annotations

import sys
from typing import Optional

__all__ = ['preprocessor_normalizes', 'runner_load_from', 'runner_resumes',
           'set_runner_load_from']


def _gone(obj: object, attr: str) -> RuntimeError:
    library = type(obj).__module__.split('.')[0]
    version = getattr(sys.modules.get(library), '__version__', '')
    return RuntimeError(f'{library} {version} changed: {type(obj).__name__}.{attr} is gone; '
                        'crossspec_mmseg needs updating')


def _private(obj: object, attr: str):
    try:
        return getattr(obj, attr)
    except AttributeError:
        raise _gone(obj, attr) from None


def runner_load_from(runner) -> Optional[str]:
    """The checkpoint ``runner`` loads before it runs (``load_from``), or
    ``None``: mmengine 0.10 ``Runner._load_from``."""
    return _private(runner, '_load_from')


def set_runner_load_from(runner, path: Optional[str]) -> None:
    """Make ``runner`` load ``path`` (before ``before_run`` hooks end: it loads
    after them): mmengine 0.10 ``Runner._load_from``."""
    _private(runner, '_load_from')
    runner._load_from = path


def runner_resumes(runner) -> bool:
    """Whether ``runner`` resumes a run (``resume=True``): mmengine 0.10
    ``Runner._resume``."""
    return bool(_private(runner, '_resume'))


def preprocessor_normalizes(pre) -> bool:
    """Whether a data preprocessor subtracts ``mean`` and divides by ``std``:
    MMSeg 1.2 ``SegDataPreProcessor._enable_normalize`` (also mmengine 0.10
    ``ImgDataPreprocessor._enable_normalize``)."""
    return bool(_private(pre, '_enable_normalize'))
