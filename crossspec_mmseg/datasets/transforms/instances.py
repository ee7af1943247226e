"""Pipeline steps for nucleus instance maps: load one beside the semantic
mask and pack it into the data sample, where ``GroupInstanceMetric`` reads it."""
from __future__ import annotations

from typing import Optional

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform, to_tensor
from mmengine import fileio
from mmengine.structures import PixelData
from mmseg.datasets.transforms import PackSegInputs
from mmseg.registry import TRANSFORMS

__all__ = ['LoadInstanceMap', 'PackSegInputsWithInstances']


@TRANSFORMS.register_module()
class LoadInstanceMap(BaseTransform):
    """Read ``results['instance_path']`` (16-bit PNG, 0 background, one id per
    nucleus) into ``results['gt_instance_map']`` and list it in
    ``seg_fields`` so flips and crops move it with the mask. Samples without
    an instance map (``instance_path`` absent or empty) pass unchanged.

    Args:
        backend_args: The mmengine file backend to read with, as
            ``LoadAnnotations(backend_args=...)`` (``None``: by the path's prefix).
    """

    def __init__(self, backend_args: Optional[dict] = None) -> None:
        self.backend_args = backend_args.copy() if backend_args else None

    def transform(self, results: dict) -> dict:
        path = results.get('instance_path')
        if path:
            ids = mmcv.imfrombytes(fileio.get(path, backend_args=self.backend_args),
                                   flag='unchanged', backend='cv2')
            if ids is None or ids.ndim != 2:
                raise ValueError(f'{path}: not a single-channel instance map')
            results['gt_instance_map'] = ids.astype(np.int32)
            results.setdefault('seg_fields', []).append('gt_instance_map')
        return results


@TRANSFORMS.register_module()
class PackSegInputsWithInstances(PackSegInputs):
    """:class:`PackSegInputs` that also packs ``gt_instance_map`` (when
    loaded) as the data sample's ``gt_instance_map``."""

    def transform(self, results: dict) -> dict:
        packed = super().transform(results)
        if 'gt_instance_map' in results:
            ids = np.ascontiguousarray(results['gt_instance_map'])[None]
            packed['data_samples'].gt_instance_map = PixelData(data=to_tensor(ids))
        return packed
