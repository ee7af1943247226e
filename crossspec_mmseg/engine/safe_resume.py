"""Checkpoints that survive a kill: atomic writes and a verified resume point.

* :class:`AtomicLocalBackend` replaces mmengine's local file backend (same
  registry name), so ``iter_N.pth`` and ``last_checkpoint`` are written to a
  temporary file, fsynced and renamed: a kill during the write leaves the
  previous files as they were, never a half-written checkpoint.
* :func:`resume_checkpoint` is what ``tools/train.py --resume`` resumes from:
  the checkpoint ``last_checkpoint`` names if it is complete, else the newest
  complete ``*.pth`` in the work dir (with a warning naming the bad file).
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

from ..utils.atomic import atomic_path

__all__ = ['AtomicLocalBackend', 'checkpoint_is_complete', 'resume_checkpoint']


class AtomicLocalBackend(LocalBackend):
    """mmengine's local backend with atomic, fsynced ``put``/``put_text``."""

    def put(self, obj: bytes, filepath) -> None:
        with atomic_path(str(filepath)) as tmp, open(tmp, 'wb') as f:
            f.write(obj)
            f.flush()
            os.fsync(f.fileno())

    def put_text(self, obj: str, filepath, encoding: str = 'utf-8') -> None:
        self.put(obj.encode(encoding), filepath)


register_backend('local', AtomicLocalBackend, force=True, prefixes='')


def checkpoint_is_complete(path: str) -> bool:
    """A torch checkpoint (zip) that is whole: every member's CRC checks."""
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.testzip() is None
    except (OSError, zipfile.BadZipFile, EOFError):
        return False


def _iteration(name: str) -> int:
    match = re.search(r'(\d+)\.pth$', name)
    return int(match.group(1)) if match else -1


def resume_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint to resume from in ``work_dir`` (``None``: start afresh)."""
    latest = find_latest_checkpoint(work_dir) if osp.isdir(work_dir) else None
    if latest and checkpoint_is_complete(latest):
        return latest
    candidates = sorted((n for n in os.listdir(work_dir) if n.endswith('.pth')
                         and not n.startswith('.')), key=_iteration, reverse=True) \
        if osp.isdir(work_dir) else []
    for name in candidates:
        path = osp.join(work_dir, name)
        if path != latest and checkpoint_is_complete(path):
            if latest:
                print_log(f'{latest} is incomplete or corrupt: resuming from {path} instead',
                          logger='current', level=logging.WARNING)
            return path
    if latest:
        print_log(f'{latest} is incomplete or corrupt and no other checkpoint is complete: '
                  'training starts afresh', logger='current', level=logging.WARNING)
    return None
