"""Names with one meaning (issue 23 §4): a manifest written with the old column
names, configs with the old keywords, all still work for one release, each
with a DeprecationWarning that says the new name; new and old give the same
result."""
import csv
import warnings

import pytest

from crossspec_mmseg.structures import filter_rows, read_manifest

OLD_HEADER = ['image', 'mask', 'dataset', 'species', 'organ', 'slide', 'group', 'split', 'x',
              'y', 'width', 'height', 'scale']


def write_old_manifest(path, folds_in_split=True):
    with open(path, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(OLD_HEADER)
        for i in range(6):
            split = f'fold{i % 3}' if folds_in_split else ('train' if i % 2 else 'test')
            writer.writerow([f'images/{i}.png', f'masks/{i}.png', 'nuinsseg', 'human', 'kidney',
                             f's{i}', f'p{i // 2}', split, 0, 0, 8, 8, 1.0])
    return str(path)


def test_an_old_manifest_reads_under_the_new_column_names(tmp_path):
    path = write_old_manifest(tmp_path / 'manifest.csv')
    with pytest.warns(DeprecationWarning) as caught:
        rows = read_manifest(path)
    message = str(caught[0].message)
    assert path in message and "'group' is now 'case'" in message and "now in 'fold'" in message
    assert [r['case'] for r in rows] == ['p0', 'p0', 'p1', 'p1', 'p2', 'p2']
    assert [r['fold'] for r in rows] == ['fold0', 'fold1', 'fold2'] * 2
    assert {r['split'] for r in rows} == {''} and all('group' not in r for r in rows)
    # train/test splits stay in split
    path = write_old_manifest(tmp_path / 'splits.csv', folds_in_split=False)
    with pytest.warns(DeprecationWarning, match="'group' is now 'case'"):
        rows = read_manifest(path)
    assert {r['split'] for r in rows} == {'train', 'test'} and {r['fold'] for r in rows} == {''}


def test_filters_on_old_names_select_the_new_columns():
    rows = [dict(case=f'p{i // 2}', split='', fold=f'fold{i % 3}') for i in range(6)]
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        new = filter_rows(rows, {'fold': ['fold0', 'fold1'], '!case': 'p0'})
    with pytest.warns(DeprecationWarning) as caught:
        old = filter_rows(rows, {'split': ['fold0', 'fold1'], '!group': 'p0'})
    assert old == new and len(new) == 2
    assert {str(w.message).split(':')[0] for w in caught} == {
        "manifest filter on 'split' ['fold0', 'fold1']", "manifest filter on 'group' ['p0']"}
    with pytest.raises(KeyError, match="unknown manifest column 'species'"):
        filter_rows(rows, dict(species='human'))


def test_old_keywords_of_the_weight_hook_sampler_and_segmentor_still_work(demo_data):
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS, HOOKS

    from crossspec_mmseg.samplers import CrossSpeciesMixedSampler
    init_default_scope('mmseg')
    with pytest.warns(DeprecationWarning, match=r'InverseFrequencyWeightHook\(column=...\)'):
        hook = HOOKS.build(dict(type='InverseFrequencyWeightHook', column='organ'))
    assert hook.by == 'organ'
    with pytest.raises(TypeError, match='give by= only'):
        HOOKS.build(dict(type='InverseFrequencyWeightHook', column='organ', by='species'))
    dataset = DATASETS.build(dict(type='NuInsSegDataset', data_root=demo_data, pipeline=[]))
    new = CrossSpeciesMixedSampler(dataset, 4, balance_by='organ', seed=0, infinite=False)
    with pytest.warns(DeprecationWarning, match='use balance_by='):
        old = CrossSpeciesMixedSampler(dataset, 4, balance_key='organ', seed=0, infinite=False)
    assert list(old) == list(new)
