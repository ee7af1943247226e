"""Checkpoints that survive a kill: atomic writes and a verified resume point.

* :class:`AtomicLocalBackend` is mmengine's local file backend with atomic
  writes, registered as ``'atomic_local'`` (importing the package changes no
  one else's writes). Configs select it for checkpoints with
  ``default_hooks.checkpoint.backend_args=dict(backend='atomic_local')`` (our
  schedule bases and the demo config do), so ``iter_N.pth`` is written to a
  temporary file, fsynced and renamed: a kill during the write leaves the
  previous checkpoints as they were, never a half-written one. (mmengine
  writes ``last_checkpoint`` with a plain ``open``; a torn one is handled
  below.)
* :func:`resume_checkpoint` is what ``tools/train.py --resume`` resumes from:
  the most recently written complete checkpoint (``last_checkpoint``'s or a
  newer ``iter_N.pth``/``epoch_N.pth``, with a warning when they differ);
  temporaries of a killed write are removed first.
"""
from __future__ import annotations

import logging
import os
import os.path as osp
import re
import zipfile
from typing import Optional

from mmengine.fileio.backends import LocalBackend, register_backend
from mmengine.logging import print_log
from mmengine.runner.checkpoint import find_latest_checkpoint

from ..utils.atomic import atomic_path, remove_stale_temporaries

__all__ = ['ATOMIC_BACKEND', 'AtomicLocalBackend', 'checkpoint_is_complete', 'resume_checkpoint']


class AtomicLocalBackend(LocalBackend):
    """mmengine's local backend with atomic, fsynced ``put``/``put_text``."""

    def put(self, obj: bytes, filepath) -> None:
        with atomic_path(str(filepath)) as tmp, open(tmp, 'wb') as f:
            f.write(obj)
            f.flush()
            os.fsync(f.fileno())

    def put_text(self, obj: str, filepath, encoding: str = 'utf-8') -> None:
        self.put(obj.encode(encoding), filepath)


#: The name configs pass as ``backend_args=dict(backend=ATOMIC_BACKEND)``.
ATOMIC_BACKEND = 'atomic_local'
register_backend(ATOMIC_BACKEND, AtomicLocalBackend)


def checkpoint_is_complete(path: str) -> bool:
    """A torch checkpoint (zip) that is whole: every member's CRC checks."""
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.testzip() is None
    except (OSError, zipfile.BadZipFile, EOFError):
        return False


#: What CheckpointHook saves with optimiser and scheduler (not ``best_*``).
RESUMABLE = re.compile(r'^(iter|epoch)_(\d+)\.pth$')


def resume_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint to resume from in ``work_dir`` (``None``: start afresh):
    the most recently written complete one among ``iter_N.pth``/``epoch_N.pth``
    and what ``last_checkpoint`` names. A kill between writing ``iter_N.pth``
    and rewriting ``last_checkpoint`` leaves the latter naming the previous
    checkpoint; older files of an earlier run in the same folder lose to a
    newer, lower-numbered one."""
    if not osp.isdir(work_dir):
        return None
    remove_stale_temporaries(work_dir)
    latest = find_latest_checkpoint(work_dir)
    candidates = {osp.realpath(p): p for p in (osp.join(work_dir, n) for n in
                                                os.listdir(work_dir) if RESUMABLE.match(n))}
    if latest and osp.exists(latest):
        candidates[osp.realpath(latest)] = latest  # as last_checkpoint writes it
    named = osp.realpath(latest) if latest else None
    for real in sorted(candidates, key=lambda p: (os.stat(p).st_mtime_ns, p), reverse=True):
        if checkpoint_is_complete(real):
            path = candidates[real]
            if named is not None and real != named:
                why = ('is incomplete or corrupt' if not checkpoint_is_complete(named) else
                       'is older than another complete checkpoint')
                print_log(f'{latest} {why}: resuming from {path} instead', logger='current',
                          level=logging.WARNING)
            return path
    if latest:
        print_log(f'{latest} is incomplete or corrupt and no other checkpoint is complete: '
                  'training starts afresh', logger='current', level=logging.WARNING)
    return None
