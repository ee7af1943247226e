"""CrossSpeciesSegDataset: filters, metainfo in samples, clear errors."""
import pytest
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS

import crossspec_mmseg  # noqa: F401
from crossspec_mmseg.structures import read_manifest, write_manifest
from crossspec_mmseg.utils import atomic_path

META = dict(classes=('background', 'nucleus'), palette=[[0, 0, 0], [255, 0, 0]])
PIPELINE = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
            dict(type='PackSegInputs', meta_keys=('img_path', 'species', 'organ', 'fold'))]


def build(root, **kwargs):
    init_default_scope('mmseg')
    return DATASETS.build(dict(dict(type='CrossSpeciesSegDataset', data_root=root, metainfo=META,
                                    pipeline=PIPELINE), **kwargs))


def test_filters_and_species_reach_data_samples(demo_data):
    everything = build(demo_data)
    human_train = build(demo_data, filters=dict(species='human', fold=['fold0', 'fold1']))
    rows = read_manifest(f'{demo_data}/manifest.csv')
    expected = [r for r in rows if r['species'] == 'human' and r['fold'] in ('fold0', 'fold1')]
    assert len(everything) == len(rows) and len(human_train) == len(expected) > 0
    sample = human_train[0]['data_samples']
    assert sample.species == 'human' and sample.fold in ('fold0', 'fold1')
    assert sample.organ == 'kidney'
    assert sample.gt_sem_seg.data.shape[-2:] == (64, 64)
    assert human_train.get_group_labels('species') == ['human'] * len(expected)


def test_exclusion_filter(demo_data):
    rows = read_manifest(f'{demo_data}/manifest.csv')
    kept = build(demo_data, filters={'!fold': 'fold0'})
    assert len(kept) == sum(r['fold'] != 'fold0' for r in rows)
    assert 'fold0' not in kept.get_group_labels('fold')


def _copy_with_manifest(demo_data, tmp_path, edit):
    import shutil
    root = tmp_path / 'data'
    shutil.copytree(demo_data, root)
    rows = read_manifest(str(root / 'manifest.csv'))
    write_manifest(str(root / 'manifest.csv'), edit(rows))
    return str(root)


@pytest.mark.parametrize('edit, error, message', [
    (lambda rows: [dict(rows[0], mask='../../etc/passwd')] + rows[1:], ValueError,
     r'manifest.csv:2: path .* points outside the dataset root'),
    (lambda rows: rows + [rows[0]], ValueError, 'is listed twice'),
    (lambda rows: [dict(rows[0], image='images/missing.png')] + rows[1:], FileNotFoundError,
     'manifest.csv:2: images/missing.png does not exist'),
])
def test_manifest_validated_at_build(demo_data, tmp_path, edit, error, message):
    with pytest.raises(error, match=message):
        build(_copy_with_manifest(demo_data, tmp_path, edit))


def test_missing_mask_column(demo_data):
    with pytest.raises(KeyError, match="no column 'masks_anatomy'"):
        build(demo_data, seg_map_column='masks_anatomy')


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


def test_instance_map_loads_and_flips_with_the_mask(demo_data):
    pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
                dict(type='LoadInstanceMap'), dict(type='RandomFlip', prob=1.0),
                dict(type='PackSegInputsWithInstances', meta_keys=('img_path', 'species'))]
    dataset = build(demo_data, pipeline=pipeline)
    for i in range(3):
        sample = dataset[i]['data_samples']
        ids, sem = sample.gt_instance_map.data[0], sample.gt_sem_seg.data[0]
        valid = sem != 255
        assert ids.max() > 0 and ((ids > 0) == (sem == 1))[valid].all()
