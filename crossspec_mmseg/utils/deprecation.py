"""Names that moved: the old module keeps them for one release, with a warning."""
from __future__ import annotations

import warnings
from types import ModuleType

__all__ = ['moved_name', 'renamed_keyword']

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


def renamed_keyword(owner: str, old: str, new: str, old_value: object,
                    new_value: object, default: object) -> object:
    """The value of keyword ``new`` whose old name ``old`` is read for one release.

    Both keywords default to ``None`` in the signature; the old one, when
    given, is used with a ``DeprecationWarning``; ``default`` when neither is.

    Raises:
        TypeError: both are given.
    """
    if old_value is None:
        return default if new_value is None else new_value
    if new_value is not None:
        raise TypeError(f'{owner}: give {new}= only ({old}= is its old name)')
    warnings.warn(f'{owner}({old}=...) is deprecated and goes in the next release: use {new}=',
                  DeprecationWarning, stacklevel=3)
    return old_value
