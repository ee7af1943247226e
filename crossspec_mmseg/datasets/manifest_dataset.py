"""The shared MMSeg dataset over a tile manifest.

Every source dataset (NuInsSeg, HuBMAP, Orbit, the synthetic demo) is a
manifest of tiles; this class reads it, keeps the rows a config asks for and
puts the manifest's metadata (species, organ, dataset, slide, ...) into each
sample so it reaches ``PackSegInputs(meta_keys=...)``, the samplers and the
metrics.
"""
from __future__ import annotations

import os
import os.path as osp
from typing import List, Optional

from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

from ..structures.manifest import (
    META_COLUMNS,
    OPTIONAL_META_COLUMNS,
    Filters,
    filter_rows,
    read_manifest,
)
from ..utils.storage import is_local, isfile
from .regimes import select_regime
from .validation import check_tiles

__all__ = ['CrossSpeciesSegDataset']


@DATASETS.register_module()
class CrossSpeciesSegDataset(BaseSegDataset):
    """Segmentation tiles listed in a ``manifest.csv``.

    The manifest is validated when the dataset is built, not halfway through
    an epoch: every referenced file must exist inside ``data_root``, no tile
    may be listed twice, and (``check_pixels``) every image must decode as
    8-bit RGB and every mask as one channel of the image's size with labels
    below the number of classes or ``ignore_index``
    (:func:`.validation.check_tiles`, remembered between runs).

    Storage: like MMSeg's datasets, the manifest and the tiles are read
    through ``mmengine.fileio`` with ``backend_args`` (or by the prefix of
    ``data_root``: ``s3://``, a registered backend's), so the
    manifest, the existence of each file and the pixel check go to the same
    storage as the pipeline's ``LoadImageFromFile(backend_args=...)`` and
    ``LoadAnnotations(backend_args=...)``, which take their own
    ``backend_args`` as in MMSeg.

    Args:
        ann_file: Manifest path, relative to ``data_root`` (default
            ``manifest.csv``).
        filters: Rows to keep, ``{column: value or [values]}``, e.g.
            ``dict(species='human', split='train')``; ``'!column'`` excludes.
        seg_map_column: Manifest column with the label mask (``mask``; e.g.
            ``masks_anatomy`` for HuBMAP's cortex/medulla labels).
        regime: Optional training regime applied after ``filters``:
            ``dict(mode='combined', target=dict(species='human', organ='kidney'),
            source='homologous', pairs=None)`` (see :mod:`.regimes`).
        label_offset: Added to every label except ``ignore_index`` when
            masks load: the node-id offset of this dataset's label set in a
            label tree (:meth:`LabelTree.offset_of`).
        check_pixels: Decode every listed tile once at build (see above).
        instance_column: Manifest column with the instance map, given to
            ``LoadInstanceMap`` as ``instance_path``; a manifest without the
            column (or an empty cell) gives none.
        tile_check_cache: Folder for the check's cache where the manifest's
            folder is not writable (a read-only dataset); default: the
            running runner's ``<work_dir>/.tile_checks``, else
            ``~/.cache/crossspec_mmseg/tile_checks`` (see
            :mod:`.validation`; local tiles only).
        **kwargs: As :class:`mmseg.datasets.BaseSegDataset` (``metainfo``
            with ``classes``/``palette``, ``pipeline``, ``data_root``,
            ``backend_args``...).
    """

    def __init__(self, ann_file: str = 'manifest.csv', filters: Optional[Filters] = None,
                 seg_map_column: str = 'mask', regime: Optional[dict] = None,
                 label_offset: int = 0, check_pixels: bool = True,
                 instance_column: str = 'instance', tile_check_cache: Optional[str] = None,
                 **kwargs) -> None:
        self.filters = dict(filters or {})
        self.check_pixels, self.tile_check_cache = check_pixels, tile_check_cache
        self.regime = dict(regime) if regime else None
        self.seg_map_column, self.instance_column = seg_map_column, instance_column
        self.label_offset = label_offset
        super().__init__(ann_file=ann_file, **kwargs)

    def _resolve(self, root: str, relative: str, line: int) -> str:
        """Path of a manifest entry under ``root`` (absolute where local); it
        must stay inside ``root`` and exist."""
        inside = osp.normpath(relative)
        if osp.isabs(relative) or inside == os.curdir or inside.split(os.sep)[0] == os.pardir:
            raise ValueError(f'{self.ann_file}:{line}: path {relative!r} points outside the '
                             f'dataset root {root}')
        path = osp.join(root, inside)
        if not isfile(path, self.backend_args):
            raise FileNotFoundError(f'{self.ann_file}:{line}: {relative} does not exist; '
                                    're-run the converter (it resumes)')
        return path

    def load_data_list(self) -> List[dict]:
        root = self.data_root or osp.dirname(self.ann_file)
        if is_local(root, self.backend_args):
            root = osp.abspath(root)
        all_rows = read_manifest(self.ann_file, self.backend_args)
        if all_rows and self.seg_map_column not in all_rows[0]:
            raise KeyError(f'{self.ann_file}: no column {self.seg_map_column!r} '
                           '(convert with the option that writes it, e.g. --anatomy)')
        lines = {id(row): i for i, row in enumerate(all_rows, start=2)}
        rows = filter_rows(all_rows, self.filters)
        if self.regime:
            rows = select_regime(rows, **self.regime)
        if not rows:
            raise ValueError(f'{self.ann_file}: no manifest rows match filters {self.filters}'
                             + (f' and regime {self.regime}' if self.regime else ''))
        seen: dict = {}
        data_list = []
        label_map = self.label_map
        if self.label_offset:
            classes = self._metainfo.get('classes') or ()
            label_map = {j: j + self.label_offset for j in range(len(classes))}
        for row in rows:
            line = lines[id(row)]
            if row['image'] in seen:
                raise ValueError(f'{self.ann_file}:{line}: tile {row["image"]} is listed twice '
                                 f'(first on line {seen[row["image"]]})')
            seen[row['image']] = line
            info = dict(img_path=self._resolve(root, row['image'], line),
                        seg_map_path=self._resolve(root, row[self.seg_map_column], line),
                        label_map=label_map,
                        reduce_zero_label=self.reduce_zero_label,
                        seg_fields=[])
            if row.get(self.instance_column):
                info['instance_path'] = self._resolve(root, row[self.instance_column], line)
            info.update({k: row[k] for k in META_COLUMNS})
            info.update({k: row[k] for k in OPTIONAL_META_COLUMNS if row.get(k)})
            data_list.append(info)
        if self.check_pixels:
            # Stored labels are class ids unless MMSeg remaps them on load.
            classes = self._metainfo.get('classes') or ()
            plain = classes and not self.reduce_zero_label and not self.label_map
            check_tiles([(f'{self.ann_file}:{seen[row["image"]]}', info['img_path'],
                          info['seg_map_path']) for row, info in zip(rows, data_list)],
                        self.ann_file, len(classes) if plain else None, self.ignore_index,
                        cache_dir=self.tile_check_cache, backend_args=self.backend_args)
        return data_list

    def get_group_labels(self, by: str = 'species') -> List[str]:
        """The value of manifest column ``by`` for every sample, in index order."""
        return [self.get_data_info(i)[by] for i in range(len(self))]
