"""Reading dataset configs: the manifest datasets a loader's config holds and
the manifest each one reads (for tools that rewrite filters or pipelines)."""
from __future__ import annotations

import os.path as osp
from typing import List

__all__ = ['dataset_parts', 'manifest_of']


def dataset_parts(dataset: dict) -> List[dict]:
    """The manifest datasets inside a dataset config (ConcatDataset parts,
    wrapped datasets), in order."""
    if dataset.get('type') == 'ConcatDataset':
        return [p for d in dataset['datasets'] for p in dataset_parts(d)]
    if 'dataset' in dataset:  # RepeatDataset, ClassBalancedDataset, ...
        return dataset_parts(dataset['dataset'])
    return [dataset]


def manifest_of(part: dict) -> str:
    """The manifest path a dataset config reads (``data_root`` + ``ann_file``)."""
    return osp.normpath(osp.join(part.get('data_root') or '', part.get('ann_file', 'manifest.csv')))
