"""Let mmengine 0.10.7 checkpoints load under torch >= 2.6's ``weights_only``.

torch >= 2.6 loads with ``weights_only=True`` by default and mmengine calls
``torch.load`` without the flag, so ``--resume`` fails on the objects that
mmengine itself stores in a checkpoint (the message hub's
:class:`~mmengine.logging.HistoryBuffer`, NumPy arrays and scalars inside it).
Instead of switching the protection off, exactly those classes are
allow-listed with :func:`torch.serialization.add_safe_globals`.

A file the safe loader refuses (random bytes, another tool's file, a pickle
that would call code) ends in one line naming the file and what is wrong
(:class:`UnreadableCheckpointError`), never in torch's advice to retry with
``weights_only=False``: mmengine's local checkpoint loader is replaced by
:func:`load_local_checkpoint`, which every tool and ``load_from`` go through.
"""
from __future__ import annotations

import os.path as osp
import pickle
import re
from typing import List

import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader

__all__ = ['CHECKPOINT_SAFE_GLOBALS', 'UnreadableCheckpointError', 'load_local_checkpoint',
           'register_checkpoint_safe_globals']


def _numpy_globals() -> List[object]:
    multiarray = getattr(np, '_core', None) or np.core  # numpy 2 renamed np.core
    dtype_classes = [getattr(np.dtypes, name) for name in dir(np.dtypes)
                     if name.endswith('DType')]
    return [multiarray.multiarray._reconstruct, multiarray.multiarray.scalar,
            np.ndarray, np.dtype, *dtype_classes]


#: Everything beyond tensors and builtins that mmengine writes into a checkpoint.
#: ``getattr`` is how pickle stores the ``HistoryBuffer.min/max/mean/current``
#: methods a buffer keeps in its state; in torch's weights-only unpickler only
#: allow-listed globals may be *called*, so what ``getattr`` returns stays inert.
CHECKPOINT_SAFE_GLOBALS = [HistoryBuffer, getattr, *_numpy_globals()]


#: How a file ``torch.save`` wrote starts: a zip archive, or (before torch 1.6) a pickle.
CHECKPOINT_MAGIC = (b'PK\x03\x04', b'\x80')


class UnreadableCheckpointError(ValueError):
    """A checkpoint file that is not one, or that holds pickled code (never run)."""


def load_local_checkpoint(filename: str, map_location=None):
    """``torch.load`` of a local file as mmengine's local loader does, with a
    one-line :class:`UnreadableCheckpointError` for a file the safe loader
    refuses (the code in it is not run)."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    with open(filename, 'rb') as f:
        head = f.read(4)
    if not head.startswith(CHECKPOINT_MAGIC):  # neither torch.save's zip nor its legacy pickle
        raise UnreadableCheckpointError(_not_a_checkpoint(filename))
    try:
        return torch.load(filename, map_location=map_location)
    except pickle.UnpicklingError as err:
        called = re.search(r'GLOBAL (\S+)', str(err))
        if called:
            raise UnreadableCheckpointError(
                f'{filename}: refused: it holds pickled objects that would call '
                f'{called.group(1)} when loaded (not run); a checkpoint holds only weights and '
                'mmengine\'s metadata. Use checkpoints from sources you trust') from None
        raise UnreadableCheckpointError(_not_a_checkpoint(filename)) from None
    except (EOFError, LookupError, ValueError, TypeError, AttributeError) as err:
        # what the weights-only unpickler raises on bytes that are not a pickle
        raise UnreadableCheckpointError(_not_a_checkpoint(filename)) from err
    except RuntimeError as err:
        if 'PytorchStreamReader' in str(err) or 'zip archive' in str(err):
            raise UnreadableCheckpointError(_not_a_checkpoint(filename)) from None
        raise  # e.g. CUDA tensors on a machine without CUDA: torch's message says it


def _not_a_checkpoint(filename: str) -> str:
    size = osp.getsize(filename)
    return (f'{filename}: not a PyTorch checkpoint ({size} bytes: truncated, still being '
            'written, or another tool\'s file); pass a .pth saved by the train tool')


def register_checkpoint_safe_globals() -> None:
    """Allow-list :data:`CHECKPOINT_SAFE_GLOBALS` for ``torch.load`` (idempotent)
    and route local checkpoints through :func:`load_local_checkpoint`."""
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is not None:  # torch < 2.4 has no weights_only default to satisfy
        add(CHECKPOINT_SAFE_GLOBALS)
    CheckpointLoader.register_scheme(prefixes='', loader=load_local_checkpoint, force=True)
