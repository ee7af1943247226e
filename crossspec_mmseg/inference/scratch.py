"""Scratch folders of the slides being predicted (the level-0 mask on disk, one
byte per pixel: gigabytes for a large slide), made so that a later run tells a
dead run's leftovers from a live run's and removes only those.

A scratch folder is ``.<mask name>.scratch-<host>-<pid>-<random>`` and holds a
``lock`` file on which its run keeps an exclusive ``flock`` while alive. The
kernel drops the lock when the process dies however it dies (SIGKILL, a
preempted cluster job), so :func:`remove_dead_scratch` removes a folder whose
lock it can take, and leaves one whose lock is held. Where the file system
has no locks, a folder counts as dead only when it was made on this host by
a process that no longer exists.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import os.path as osp
import re
import shutil
import socket
import tempfile
from typing import Iterator, List, Optional

__all__ = ['remove_dead_scratch', 'scratch_folder']

SCRATCH_MARK = '.scratch-'
LOCK_NAME = 'lock'
_NAME = re.compile(r'^\.(?P<name>.+)\.scratch-(?P<host>.+)-(?P<pid>\d+)-[a-z0-9_]+$')
#: Scratch folders of this process (on file systems where a process's own
#: locks do not exclude each other, they are still known to be alive).
_LIVE = set()


def _host() -> str:
    return re.sub(r'[^A-Za-z0-9._-]', '_', socket.gethostname()) or 'host'


@contextlib.contextmanager
def scratch_folder(folder: str, name: str) -> Iterator[str]:
    """A new scratch folder in ``folder`` for the output ``name``, locked while
    the block runs and removed after it."""
    os.makedirs(folder, exist_ok=True)
    path = tempfile.mkdtemp(prefix=f'.{name}{SCRATCH_MARK}{_host()}-{os.getpid()}-',
                            dir=folder)
    _LIVE.add(path)
    fd = os.open(osp.join(path, LOCK_NAME + '.new'), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        with contextlib.suppress(OSError):  # no locks here: judged by host and pid
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        # Named ``lock`` only once locked: a cleaner never finds it unlocked.
        os.rename(osp.join(path, LOCK_NAME + '.new'), osp.join(path, LOCK_NAME))
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        os.close(fd)
        _LIVE.discard(path)


def remove_dead_scratch(folder: str, name: Optional[str] = None) -> List[str]:
    """Remove the scratch folders in ``folder`` (of output ``name``, or of any)
    whose run is dead; the paths removed. Live runs' folders are left."""
    removed = []
    try:
        entries = sorted(os.listdir(folder))
    except FileNotFoundError:
        return removed
    for entry in entries:
        match = _NAME.match(entry)
        path = osp.join(folder, entry)
        if match is None or (name is not None and match['name'] != name) or path in _LIVE:
            continue
        if _remove_if_dead(path, match['host'], int(match['pid'])):
            removed.append(path)
    return removed


def _remove_if_dead(path: str, host: str, pid: int) -> bool:
    try:
        fd = os.open(osp.join(path, LOCK_NAME), os.O_RDONLY)
    except OSError:  # not locked yet (being made) or being removed: its run's business
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                return False  # held: its run is alive
            if host != _host() or _pid_alive(pid):  # no locks here
                return False
        shutil.rmtree(path, ignore_errors=True)  # still holding the lock
        return True
    finally:
        os.close(fd)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, another user's
        return True
    return True
