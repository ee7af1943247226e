"""Atomic file writes: a reader sees the old file or the complete new one."""
from __future__ import annotations

import contextlib
import os
import os.path as osp
import re
import tempfile
from typing import Iterator

__all__ = ['atomic_path', 'remove_stale_temporaries']

TEMP_MARK = '.tmp'
#: The names :func:`atomic_path` gives its temporaries (``mkstemp`` adds 8 characters).
_TEMP_NAME = re.compile(r'^\..+\.[A-Za-z0-9_]{8}\.tmp(\.[A-Za-z0-9]+)?$')


@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[str]:
    """Yield a temporary path beside ``path``; rename it over ``path`` on success.

    On any exception the temporary file is removed and ``path`` is untouched.
    The temporary name keeps the extension, so writers that infer the format
    from the suffix (OpenCV, tifffile) still work.
    """
    folder, name = osp.split(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    stem, ext = osp.splitext(name)
    fd, tmp = tempfile.mkstemp(prefix=f'.{stem}.', suffix=f'{TEMP_MARK}{ext}', dir=folder)
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


def remove_stale_temporaries(root: str) -> int:
    """Delete the temporary files :func:`atomic_path` leaves behind when its
    process is killed (hidden ``.<stem>.<random>.tmp<ext>`` names) under
    ``root``; returns how many. Only for folders one writer owns."""
    removed = 0
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != '.git']
        for name in files:
            if _TEMP_NAME.match(name):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(osp.join(folder, name))
                    removed += 1
    return removed
