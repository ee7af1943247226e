"""Atomic file writes: a reader sees the old file or the complete new one."""
from __future__ import annotations

import contextlib
import os
import os.path as osp
import re
import tempfile
from typing import Iterator

__all__ = ['atomic_path', 'remove_stale_temporaries', 'current_umask']

TEMP_MARK = '.tmp'
#: The names :func:`atomic_path` gives its temporaries (``mkstemp`` adds 8 characters).
_TEMP_NAME = re.compile(r'^\..+\.[A-Za-z0-9_]{8}\.tmp(\.[A-Za-z0-9]+)?$')


def current_umask() -> int:
    """The process umask, read without changing it where Linux allows."""
    with contextlib.suppress(OSError, ValueError):
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('Umask:'):
                    return int(line.split()[1], 8)
    mask = os.umask(0o022)  # elsewhere: the only portable query sets it
    os.umask(mask)
    return mask


def _final_mode(path: str) -> int:
    """The mode ``path`` should end with: its current one when it is replaced,
    else what ``open(path, 'w')`` would give (0666 less the umask)."""
    try:
        return os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        return 0o666 & ~current_umask()


@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[str]:
    """Yield a temporary path beside ``path``; rename it over ``path`` on success.

    On any exception the temporary file is removed and ``path`` is untouched.
    The temporary name keeps the extension, so writers that infer the format
    from the suffix (OpenCV, tifffile) still work. The file ends with the
    mode a plain ``open()`` would give it (0644 under umask 022; ``mkstemp``'s
    private 0600 is not kept), and a replaced file keeps its own mode.
    """
    folder, name = osp.split(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    stem, ext = osp.splitext(name)
    fd, tmp = tempfile.mkstemp(prefix=f'.{stem}.', suffix=f'{TEMP_MARK}{ext}', dir=folder)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, _final_mode(path))
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
