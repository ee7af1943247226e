"""The shared MMSeg dataset over a tile manifest.

Every source dataset (NuInsSeg, HuBMAP, Orbit, the synthetic demo) is a
manifest of tiles; this class reads it, keeps the rows a config asks for and
puts the manifest's metadata (species, organ, dataset, slide, ...) into each
sample so it reaches ``PackSegInputs(meta_keys=...)``, the samplers and the
metrics.
"""
from __future__ import annotations

import os.path as osp
from typing import List, Optional

from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

from .manifest import META_COLUMNS, Filters, filter_rows, read_manifest

__all__ = ['CrossSpeciesSegDataset']


@DATASETS.register_module()
class CrossSpeciesSegDataset(BaseSegDataset):
    """Segmentation tiles listed in a ``manifest.csv``.

    Args:
        ann_file: Manifest path, relative to ``data_root`` (default
            ``manifest.csv``).
        filters: Rows to keep, ``{column: value or [values]}``, e.g.
            ``dict(species='human', split='train')``.
        **kwargs: As :class:`mmseg.datasets.BaseSegDataset` (``metainfo``
            with ``classes``/``palette``, ``pipeline``, ``data_root``...).
    """

    def __init__(self, ann_file: str = 'manifest.csv',
                 filters: Optional[Filters] = None, **kwargs) -> None:
        self.filters = dict(filters or {})
        super().__init__(ann_file=ann_file, **kwargs)

    def load_data_list(self) -> List[dict]:
        root = self.data_root or osp.dirname(self.ann_file)
        rows = filter_rows(read_manifest(self.ann_file), self.filters)
        if not rows:
            raise ValueError(f'{self.ann_file}: no manifest rows match filters {self.filters}')
        data_list = []
        for row in rows:
            info = dict(img_path=osp.join(root, row['image']),
                        seg_map_path=osp.join(root, row['mask']),
                        label_map=self.label_map,
                        reduce_zero_label=self.reduce_zero_label,
                        seg_fields=[])
            info.update({k: row[k] for k in META_COLUMNS})
            data_list.append(info)
        return data_list

    def get_group_labels(self, column: str = 'species') -> List[str]:
        """The value of a manifest column for every sample, in index order."""
        return [self.get_data_info(i)[column] for i in range(len(self))]
