"""Atomic file writes: a reader sees the old file or the complete new one."""
from __future__ import annotations

import contextlib
import os
import os.path as osp
import re
import secrets
from typing import Iterator

__all__ = ['atomic_path', 'remove_stale_temporaries']

TEMP_MARK = '.tmp'
#: The names :func:`atomic_path` gives its temporaries (8 random characters).
_TEMP_NAME = re.compile(r'^\..+\.[A-Za-z0-9_]{8}\.tmp(\.[A-Za-z0-9]+)?$')


def _create_temporary(folder: str, stem: str, ext: str) -> str:
    """A new empty file ``.<stem>.<8 random hex>.tmp<ext>`` in ``folder``, created
    with mode 0666 so the kernel applies the umask as for a plain ``open()``
    (``mkstemp`` would make it private, 0600, whatever the umask)."""
    while True:
        tmp = osp.join(folder, f'.{stem}.{secrets.token_hex(4)}{TEMP_MARK}{ext}')
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return tmp
        except FileExistsError:  # another writer drew the same name: draw again
            continue


@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[str]:
    """Yield a temporary path beside ``path``; rename it over ``path`` on success.

    On any exception the temporary file is removed and ``path`` is untouched.
    The temporary name keeps the extension, so writers that infer the format
    from the suffix (OpenCV, tifffile) still work. The file ends with the
    mode a plain ``open()`` would give it (0644 under umask 022), and a
    replaced file keeps its own mode.
    """
    folder, name = osp.split(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    stem, ext = osp.splitext(name)
    tmp = _create_temporary(folder, stem, ext)
    try:
        yield tmp
        with contextlib.suppress(FileNotFoundError):  # replacing: keep the file's mode
            os.chmod(tmp, os.stat(path).st_mode & 0o7777)
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
