"""Typed nuclei in the ``.npy`` layouts of the field's official scripts, so
users can score a model with PanNuke-metrics' ``run.py`` or CoNIC's
``compute_stats.py`` themselves.

- ``pannuke``: ``(N, H, W, K + 1)`` float64, channel ``t - 1`` holding the
  instance ids of type ``t`` (the dataset's own ids ``1..K``), the last
  channel 1 on background (PanNuke's ``masks.npy``; K = 5 for PanNuke);
- ``conic``: ``(N, H, W, 2)`` int32, ``[instance id, type]`` per pixel
  (CoNIC's ``labels.npy``).

:class:`NucleiNpyWriter` spills each image to ``<out>/.parts/`` while a
test runs (memory stays one image) and assembles ``<out>/<label set>/
{pred,true}.npy`` with ``images.csv`` (row -> image path) at the end, each
file written atomically.
"""
from __future__ import annotations

import csv
import os
import os.path as osp
import shutil
from typing import Dict, List, Sequence

import numpy as np

from ..utils.atomic import atomic_path

__all__ = ['NPY_LAYOUTS', 'NucleiNpyWriter', 'to_npy_layout']

NPY_LAYOUTS = ('pannuke', 'conic')


def to_npy_layout(instances: np.ndarray, types: np.ndarray, num_types: int,
                  layout: str) -> np.ndarray:
    """One image in ``layout``.

    Args:
        instances: ``(H, W)`` ids 1..n (0 background).
        types: ``types[k - 1]``: instance ``k``'s type in the dataset's own
            ids (1..``num_types``; 0: untyped, kept out of the type channels).
        num_types: The dataset's types (its classes but background).
        layout: One of :data:`NPY_LAYOUTS`.
    """
    instances = np.asarray(instances, np.int64)
    lut = np.zeros(int(instances.max(initial=0)) + 1, np.int64)
    types = np.asarray(types, np.int64).ravel()[:len(lut) - 1]
    lut[1:len(types) + 1] = types
    per_pixel = lut[instances]
    if layout == 'conic':
        return np.stack([instances, per_pixel], axis=-1).astype(np.int32)
    if layout != 'pannuke':
        raise ValueError(f'npy layout must be one of {NPY_LAYOUTS}, not {layout!r}')
    out = np.zeros(instances.shape + (num_types + 1,), np.float64)
    for t in range(1, num_types + 1):
        out[..., t - 1] = np.where(per_pixel == t, instances, 0)
    out[..., num_types] = instances == 0
    return out


class NucleiNpyWriter:
    """Collects typed predictions and truths per label set; see the module."""

    def __init__(self, out_dir: str, layout: str) -> None:
        if layout not in NPY_LAYOUTS:
            raise ValueError(f'npy layout must be one of {NPY_LAYOUTS}, not {layout!r}')
        self.out_dir, self.layout = out_dir, layout
        self.parts = osp.join(out_dir, '.parts')
        self._count = 0

    def add(self, rank: int, image: str, num_types: int, true: np.ndarray,
            true_types: np.ndarray, pred: np.ndarray, pred_types: np.ndarray) -> str:
        """Spill one image (both maps in the layout); its part file."""
        os.makedirs(self.parts, exist_ok=True)
        path = osp.join(self.parts, f'{rank}-{self._count}.npz')
        self._count += 1
        with atomic_path(path) as tmp, open(tmp, 'wb') as f:
            np.savez(f, image=image,
                     true=to_npy_layout(true, true_types, num_types, self.layout),
                     pred=to_npy_layout(pred, pred_types, num_types, self.layout))
        return path

    def assemble(self, parts: Dict[str, List[str]]) -> List[str]:
        """Write ``<label set>/{pred,true}.npy`` and ``images.csv`` from the
        parts of each set (in test order); the files written.

        Raises:
            ValueError: images of one set differ in size (the layouts stack
                them), naming the first that differs.
        """
        written = []
        for label_set, paths in parts.items():
            folder = osp.join(self.out_dir, label_set or 'all')
            os.makedirs(folder, exist_ok=True)
            written += self._assemble(folder, paths)
        shutil.rmtree(self.parts, ignore_errors=True)
        return written

    def _assemble(self, folder: str, paths: Sequence[str]) -> List[str]:
        with np.load(paths[0]) as first:
            shape, dtype = first['pred'].shape, first['pred'].dtype
        images, out = [], {}
        for key in ('pred', 'true'):
            out[key] = osp.join(folder, f'{key}.npy')
            with atomic_path(out[key]) as tmp:
                array = np.lib.format.open_memmap(tmp, mode='w+', dtype=dtype,
                                                  shape=(len(paths),) + shape)
                for i, path in enumerate(paths):
                    with np.load(path) as part:
                        if part[key].shape != shape:
                            raise ValueError(f'{part["image"]}: {part[key].shape[:2]} differs '
                                             f'from the first image ({shape[:2]}); the npy '
                                             'layouts stack images of one size')
                        array[i] = part[key]
                        if key == 'pred':
                            images.append(str(part['image']))
                array.flush()
                del array
        out['images'] = osp.join(folder, 'images.csv')
        with atomic_path(out['images']) as tmp, open(tmp, 'w', newline='') as f:
            writer = csv.writer(f)
            writer.writerow(['row', 'image'])
            writer.writerows(enumerate(images))
        return [out['pred'], out['true'], out['images']]
