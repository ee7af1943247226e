"""Each source's base config builds its dataset on converted synthetic downloads."""
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.dataset import ConcatDataset
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS

import crossspec_mmseg  # noqa: F401
from crossspec_mmseg.converters import convert_hubmap, convert_orbit
from crossspec_mmseg.demo import write_hubmap_raw, write_orbit_raw
from helpers import ORBIT_BLOBS_DIR, REPO


@pytest.fixture(scope='module')
def glomeruli(tmp_path_factory):
    root = tmp_path_factory.mktemp('glomeruli')
    ids = write_hubmap_raw(str(root / 'hubmap_raw'), n_slides=2, shape=(160, 200))
    convert_hubmap(str(root / 'hubmap_raw'), str(root / 'hubmap'), scale=0.5, tile=64,
                   anatomy=True, splits={ids[0]: 'val'})
    groups = write_orbit_raw(str(root / 'orbit_raw'), ORBIT_BLOBS_DIR)
    convert_orbit(str(root / 'orbit_raw'), str(root / 'orbit'), slide_table=groups, tile=64)
    return root, ids


def build(config, loader, data_root, **dataset_overrides):
    cfg = Config.fromfile(osp.join(REPO, 'configs', '_base_', 'datasets', f'{config}.py'))
    dataset = cfg[loader].dataset
    dataset.update(data_root=data_root, **dataset_overrides)
    init_default_scope('mmseg')
    return DATASETS.build(dataset)


def test_nuinsseg_folds(demo_data):
    train = build('nuinsseg', 'train_dataloader', demo_data)
    test = build('nuinsseg', 'test_dataloader', demo_data)
    assert type(train).__name__ == 'NuInsSegDataset'
    assert set(train.get_group_labels('fold')) <= {'fold0', 'fold1', 'fold2'}
    assert set(test.get_group_labels('fold')) == {'fold4'}
    assert train.metainfo['classes'] == ('background', 'nucleus')


def test_hubmap_and_orbit_share_a_label_space(glomeruli):
    root, ids = glomeruli
    hubmap = build('hubmap', 'train_dataloader', str(root / 'hubmap'), filters={})
    orbit = build('orbit', 'train_dataloader', str(root / 'orbit'))
    mixed = ConcatDataset([hubmap, orbit])
    species = {mixed[i]['data_samples'].species for i in (0, len(mixed) - 1)}
    assert species == {'human', 'mouse'}
    assert mixed.metainfo['classes'] == ('background', 'glomerulus')


def test_hubmap_holds_out_slides(glomeruli):
    """The base config selects by the converter's split column."""
    root, ids = glomeruli
    train = build('hubmap', 'train_dataloader', str(root / 'hubmap'))
    val = build('hubmap', 'val_dataloader', str(root / 'hubmap'))
    assert set(train.get_group_labels('slide')) == {ids[1]}
    assert set(val.get_group_labels('slide')) == {ids[0]}


def test_hubmap_anatomy_labels(glomeruli):
    root, _ = glomeruli
    init_default_scope('mmseg')
    anatomy = DATASETS.build(dict(type='HuBMAPAnatomyDataset', data_root=str(root / 'hubmap'),
                                  pipeline=[dict(type='LoadAnnotations')]))
    assert anatomy.metainfo['classes'] == ('background', 'cortex', 'medulla')
    labels = set()
    for i in range(len(anatomy)):
        labels |= set(anatomy[i]['gt_seg_map'].ravel().tolist())
    assert {1, 2} <= labels
