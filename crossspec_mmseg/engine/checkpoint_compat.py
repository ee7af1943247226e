"""Let mmengine 0.10.7 checkpoints load under torch >= 2.6's ``weights_only``.

torch >= 2.6 loads with ``weights_only=True`` by default and mmengine calls
``torch.load`` without the flag, so ``--resume`` fails on the objects that
mmengine itself stores in a checkpoint (the message hub's
:class:`~mmengine.logging.HistoryBuffer`, NumPy arrays and scalars inside it).
Instead of switching the protection off, exactly those classes are
allow-listed with :func:`torch.serialization.add_safe_globals`.
"""
from __future__ import annotations

from typing import List

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

__all__ = ['CHECKPOINT_SAFE_GLOBALS', 'register_checkpoint_safe_globals']


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


def register_checkpoint_safe_globals() -> None:
    """Allow-list :data:`CHECKPOINT_SAFE_GLOBALS` for ``torch.load`` (idempotent)."""
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is not None:  # torch < 2.4 has no weights_only default to satisfy
        add(CHECKPOINT_SAFE_GLOBALS)
