"""Names that moved: the old module keeps them for one release, with a warning."""
from __future__ import annotations

import warnings
from types import ModuleType

__all__ = ['moved_name']

_MISSING = object()


def moved_name(old_module: str, new_module: ModuleType, name: str) -> object:
    """What a deprecated module's ``__getattr__`` returns: the public ``name``
    of ``new_module``, with a ``DeprecationWarning`` pointing at the line that
    imported it from ``old_module``.

    Raises:
        AttributeError: ``new_module`` has no such public name (private names
            and the modules it imports are not forwarded).
    """
    value = _MISSING if name.startswith('_') else getattr(new_module, name, _MISSING)
    if value is _MISSING or isinstance(value, ModuleType):
        raise AttributeError(f'module {old_module!r} has no attribute {name!r}')
    warnings.warn(f'{old_module} is deprecated and goes in the next release: import {name} '
                  f'from {new_module.__name__}', DeprecationWarning, stacklevel=3)
    return value
