"""CrossSpeciesSegDataset off the local disk: the manifest, the existence of
each file, the build-time pixel check and the pipeline all go through
``mmengine.fileio`` (an in-memory backend registered here, reached by
``backend_args`` or by a URI prefix), as MMSeg datasets do for S3/petrel/HTTP."""
import os
import os.path as osp

import numpy as np
import pytest
from mmengine.fileio import register_backend
from mmengine.fileio.backends import BaseStorageBackend
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS

from crossspec_mmseg.datasets import validation
from crossspec_mmseg.datasets.validation import TileCheckError
from crossspec_mmseg.structures import read_manifest
from crossspec_mmseg.utils.storage import is_local, isfile

ROOT = 'mem-data'  # not a local folder: reading it from disk fails


class MemoryBackend(BaseStorageBackend):
    """Files in a dict, keyed by path without the ``memtest://`` prefix or leading ``/``."""

    files = {}

    def __init__(self, **kwargs):
        pass

    @staticmethod
    def key(filepath):
        return str(filepath).split('://', 1)[-1].lstrip('/')

    def get(self, filepath):
        try:
            return self.files[self.key(filepath)]
        except KeyError:
            raise FileNotFoundError(filepath) from None

    def get_text(self, filepath, encoding='utf-8'):
        return self.get(filepath).decode(encoding)

    def isfile(self, filepath):
        return self.key(filepath) in self.files

    def exists(self, filepath):
        key = self.key(filepath)
        return key in self.files or any(k.startswith(key + '/') for k in self.files)

    def join_path(self, filepath, *filepaths):
        return '/'.join([str(filepath).rstrip('/'), *filepaths])


register_backend('memtest', MemoryBackend, force=True, prefixes='memtest')

#: The two ways MMSeg users name a backend: by ``backend_args`` or by the path's prefix.
BY_ARGS = dict(data_root=f'/{ROOT}', backend_args=dict(backend='memtest'))
BY_PREFIX = dict(data_root=f'memtest://{ROOT}', backend_args=None)


@pytest.fixture
def stored(demo_data):
    """The converted demo data (manifest, images, masks, instance maps) in memory."""
    MemoryBackend.files = {}
    for folder, _, names in os.walk(demo_data):
        for name in names:
            if not name.startswith('.'):  # no local tile check cache
                path = osp.join(folder, name)
                with open(path, 'rb') as f:
                    MemoryBackend.files[f'{ROOT}/{osp.relpath(path, demo_data)}'] = f.read()
    yield MemoryBackend.files
    MemoryBackend.files = {}


def build(data_root, backend_args):
    pipeline = [dict(type='LoadImageFromFile', backend_args=backend_args),
                dict(type='LoadAnnotations', backend_args=backend_args),
                dict(type='LoadInstanceMap', backend_args=backend_args),
                dict(type='PackSegInputsWithInstances', meta_keys=('img_path', 'species'))]
    init_default_scope('mmseg')
    return DATASETS.build(dict(type='CrossSpeciesSegDataset', data_root=data_root,
                               backend_args=backend_args, pipeline=pipeline,
                               metainfo=dict(classes=('background', 'nucleus'))))


@pytest.mark.parametrize('where', [BY_ARGS, BY_PREFIX], ids=['backend_args', 'prefix'])
def test_dataset_reads_through_the_backend(stored, demo_data, where, monkeypatch):
    with monkeypatch.context() as patch:
        cached = []
        patch.setattr(validation, '_cache_paths', lambda *a: cached.append(a) or ('', ''))
        dataset = build(**where)
    assert not cached  # the check's cache keys on local files only
    local = build(demo_data, None)
    assert len(dataset) == len(read_manifest(f'{demo_data}/manifest.csv')) == len(local)
    sample, expected = dataset[0], local[0]
    assert sample['data_samples'].img_path.startswith(where['data_root'] + '/images/')
    assert sample['data_samples'].species == expected['data_samples'].species
    assert np.array_equal(sample['inputs'], expected['inputs'])
    for field in ('gt_sem_seg', 'gt_instance_map'):
        assert np.array_equal(getattr(sample['data_samples'], field).data,
                              getattr(expected['data_samples'], field).data)


@pytest.mark.parametrize('where', [BY_ARGS, BY_PREFIX], ids=['backend_args', 'prefix'])
def test_stored_tiles_are_checked_at_build(stored, where):
    rows = read_manifest(f'{where["data_root"]}/manifest.csv', where['backend_args'])
    stored[f'{ROOT}/{rows[1]["mask"]}'] = stored[f'{ROOT}/{rows[1]["mask"]}'][:30]
    with pytest.raises(TileCheckError, match=rf'manifest.csv:3: .*{rows[1]["mask"]}: truncated'):
        build(**where)
    del stored[f'{ROOT}/{rows[2]["image"]}']
    with pytest.raises(FileNotFoundError, match=rf'manifest.csv:4: {rows[2]["image"]} does not'):
        build(**where)
    del stored[f'{ROOT}/manifest.csv']
    with pytest.raises(FileNotFoundError, match='manifest not found'):
        build(**where)


def test_where_a_path_lives(tmp_path):
    (tmp_path / 'a.png').write_bytes(b'x')
    local = str(tmp_path / 'a.png')
    assert is_local(local) and is_local(local, dict(backend='atomic_local'))
    assert not is_local(local, dict(backend='memtest')) and not is_local('memtest://a.png')
    assert isfile(local) and not isfile(local + '.missing')
    assert not isfile(local, dict(backend='memtest'))  # asked of the backend, not the disk
    assert isfile('http://example.invalid/a.png')  # HTTP cannot tell: reading it will
