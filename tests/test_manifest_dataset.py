"""CrossSpeciesSegDataset: filters, metainfo in samples, clear errors."""
import pytest
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS

import crossspec_mmseg  # noqa: F401
from crossspec_mmseg.datasets import read_manifest, write_manifest
from crossspec_mmseg.utils import atomic_path

META = dict(classes=('background', 'nucleus'), palette=[[0, 0, 0], [255, 0, 0]])
PIPELINE = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
            dict(type='PackSegInputs', meta_keys=('img_path', 'species', 'organ', 'split'))]


def build(root, **kwargs):
    init_default_scope('mmseg')
    return DATASETS.build(dict(type='CrossSpeciesSegDataset', data_root=root, metainfo=META,
                               pipeline=PIPELINE, **kwargs))


def test_filters_and_species_reach_data_samples(demo_data):
    everything = build(demo_data)
    human_train = build(demo_data, filters=dict(species='human', split=['train']))
    rows = read_manifest(f'{demo_data}/manifest.csv')
    expected = [r for r in rows if r['species'] == 'human' and r['split'] == 'train']
    assert len(everything) == len(rows) and len(human_train) == len(expected) > 0
    sample = human_train[0]['data_samples']
    assert sample.species == 'human' and sample.split == 'train' and sample.organ == 'tissue'
    assert sample.gt_sem_seg.data.shape[-2:] == (64, 64)
    assert human_train.get_group_labels('species') == ['human'] * len(expected)


def test_no_matching_rows_is_an_error(demo_data):
    with pytest.raises(ValueError, match='no manifest rows match'):
        build(demo_data, filters=dict(species='rat'))


def test_unknown_filter_column_is_an_error(demo_data):
    with pytest.raises(KeyError, match='colour'):
        build(demo_data, filters=dict(colour='blue'))


def test_manifest_missing_columns_named(tmp_path):
    (tmp_path / 'manifest.csv').write_text('image,mask\na.png,a.png\n')
    with pytest.raises(ValueError, match=r'manifest.csv: manifest lacks columns \[.dataset'):
        build(str(tmp_path))


def test_missing_manifest_names_path(tmp_path):
    with pytest.raises(FileNotFoundError, match='manifest not found'):
        build(str(tmp_path))


def test_atomic_path_leaves_old_file_on_failure(tmp_path):
    path = tmp_path / 'manifest.csv'
    write_manifest(str(path), [dict(image='a', species='human')])
    before = path.read_text()
    with pytest.raises(RuntimeError):
        with atomic_path(str(path)) as tmp, open(tmp, 'w') as f:
            f.write('image,species\nb,mo')
            raise RuntimeError('interrupted')
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ['manifest.csv']
