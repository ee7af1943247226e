"""PanNuke converter on a synthetic download in the distributed layout: the CLI
as a user runs it, tiles read back with OpenCV/PIL against the raw arrays,
every quirk counted, bad folds and patches, resume, and the dataset class."""
import os
import os.path as osp
import re
import shutil

import cv2
import numpy as np
import pytest
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS
from PIL import Image

from crossspec_mmseg.demo.downloads.pannuke import (
    TISSUES,
    corrupt_pannuke,
    pannuke_paths,
    write_pannuke_raw,
)
from crossspec_mmseg.structures import read_manifest
from helpers import run_tool, tree_digest

SIZE = 48


@pytest.fixture(scope='module')
def download(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('pannuke_raw'))
    planted = write_pannuke_raw(root, patches=2, size=SIZE, seed=1)
    return root, planted


@pytest.fixture(scope='module')
def converted(download, tmp_path_factory):
    """The CLI in a fresh interpreter, as a user runs it."""
    out = str(tmp_path_factory.mktemp('pannuke_out'))
    proc = run_tool(['tools/dataset_converters/pannuke.py', download[0], out, '--tile',
                     str(SIZE), '--workers', '2'], '')
    return out, proc.stdout


def cli(*args, check=False):
    """The CLI in this interpreter (argparse, exit codes and messages as from a shell)."""
    proc = run_tool(['tools/dataset_converters/pannuke.py', *map(str, args)], '', check=check,
                    fresh=False)
    return proc.returncode, proc.stdout, proc.stderr


def summary_quirks(stdout):
    return {what: int(n) for what, n in re.findall(r'([a-z][a-z0-9 ./]+): (\d+)',
                                                   stdout.split('quirks: ')[1])}


def test_every_quirk_is_counted(download, converted):
    _, planted = download
    assert summary_quirks(converted[1]) == dict(planted)


def test_tiles_match_the_raw_arrays(download, converted):
    root, _ = download
    out, _ = converted
    rows = read_manifest(osp.join(out, 'manifest.csv'))
    assert len(rows) == 2 * 3 + 5
    high_ids = 0
    for row in rows:
        fold, index = re.match(r'pannuke_fold(\d)_(\d{4})$', row['slide']).groups()
        paths = pannuke_paths(root, int(fold))
        image = np.load(paths['images'])[int(index)]
        mask = np.load(paths['masks'])[int(index)]
        assert row['fold'] == f'fold{fold}' and row['split'] == '' and row['case'] == row['slide']
        assert row['organ'] == TISSUES[int(index) % len(TISSUES)].lower()
        assert (row['origin'], row['dataset'], row['mpp']) == ('pannuke', 'pannuke', '0.25')
        rgb = np.asarray(Image.open(osp.join(out, row['image'])).convert('RGB'))
        assert (rgb == image.astype(np.uint8)).all()
        types = np.asarray(Image.open(osp.join(out, row['mask'])))
        ids = cv2.imread(osp.join(out, row['instance']), cv2.IMREAD_UNCHANGED)
        assert ids.dtype == np.uint16
        layers = mask[..., :5]
        channels = (layers > 0).sum(axis=2)
        one = channels == 1
        assert (types[one] == np.argmax(layers > 0, axis=2)[one] + 1).all()
        assert (types[channels > 1] == 255).all() and (ids[channels > 1] > 0).all()
        assert (types[(channels == 0) & (mask[..., 5] == 0)] == 255).all()
        assert (types[(channels == 0) & (mask[..., 5] > 0)] == 0).all()
        assert ((ids > 0) == (channels > 0)).all()
        # Each (channel, raw id) region maps to one output id and back, except where a
        # quirk forces new ids; plain patches keep the download's ids exactly.
        if int(index) < 2:
            assert (ids == layers.sum(axis=2)).all()
        high_ids += int((ids > 255).any())
    assert high_ids == len(rows)


def test_dataset_loads_the_tiles(converted):
    out, _ = converted
    init_default_scope('mmseg')
    dataset = DATASETS.build(dict(
        type='PanNukeDataset', data_root=out, filters=dict(fold='fold1'),
        pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
                  dict(type='LoadInstanceMap'),
                  dict(type='PackSegInputsWithInstances', meta_keys=('img_path', 'fold'))]))
    assert len(dataset) == 7 and dataset.metainfo['classes'][1] == 'neoplastic'
    sample = dataset[0]['data_samples']
    sem, ids = sample.gt_sem_seg.data[0].numpy(), sample.gt_instance_map.data[0].numpy()
    assert set(np.unique(sem)) <= {0, 1, 2, 3, 4, 5, 255} and ids.max() > 255
    assert ((ids > 0) == ((sem > 0) & (sem < 255))).all()


def test_bad_fold_named_skipped_and_resumed(download, tmp_path):
    raw = tmp_path / 'raw'
    shutil.copytree(download[0], raw)
    good_masks = open(pannuke_paths(str(raw), 2)['masks'], 'rb').read()
    bad = corrupt_pannuke(str(raw), 2, 'truncate')
    code, _, err = cli(raw, tmp_path / 'out', '--tile', SIZE)
    assert code == 1 and 'Traceback' not in err, err
    assert err.startswith(f'error: {bad}: unreadable .npy') and len(err.splitlines()) <= 2, err
    code, out, err = cli(raw, tmp_path / 'out', '--tile', SIZE, '--skip-bad')
    assert code == 0, err
    rows = read_manifest(str(tmp_path / 'out' / 'manifest.csv'))
    assert {r['fold'] for r in rows} == {'fold1', 'fold3'}
    with open(tmp_path / 'out' / 'skipped.csv') as f:
        assert 'Fold 2' in f.read()
    with open(pannuke_paths(str(raw), 2)['masks'], 'wb') as f:
        f.write(good_masks)  # downloaded again
    code, out, err = cli(raw, tmp_path / 'out', '--tile', SIZE)
    assert code == 0, err
    assert f'{len(rows)} tiles already present' in out
    assert summary_quirks(out) == dict(download[1])  # resumed sources keep their quirks
    code, _, _ = cli(raw, tmp_path / 'fresh', '--tile', SIZE)
    assert tree_digest(str(tmp_path / 'out')) == tree_digest(str(tmp_path / 'fresh'))


def test_shape_mismatch_is_named(download, tmp_path):
    raw = tmp_path / 'raw'
    shutil.copytree(download[0], raw)
    bad = corrupt_pannuke(str(raw), 3, 'shape')
    code, _, err = cli(raw, tmp_path / 'out', '--tile', SIZE)
    assert code == 1 and err.startswith(f'error: {bad}: <U') and 'expected 2 tissue' in err, err


def test_bad_patch_is_left_out(download, tmp_path):
    raw = tmp_path / 'raw'
    shutil.copytree(download[0], raw)
    bad = corrupt_pannuke(str(raw), 1, 'fraction')
    code, _, err = cli(raw, tmp_path / 'out', '--tile', SIZE)
    assert code == 1 and err.startswith(f'error: {bad} patch 0: instance ids must be'), err
    code, _, err = cli(raw, tmp_path / 'out', '--tile', SIZE, '--skip-bad')
    assert code == 0, err
    slides = {r['slide'] for r in read_manifest(str(tmp_path / 'out' / 'manifest.csv'))}
    assert 'pannuke_fold1_0000' not in slides and len(slides) == 10
    assert not [f for f in os.listdir(tmp_path / 'out' / 'images') if 'fold1_0000' in f]


def test_mpp_keeps_instances_one_to_one(download, tmp_path):
    code, out, err = cli(download[0], tmp_path / 'out', '--tile', SIZE, '--mpp', '0.5')
    assert code == 0, err
    vanished = summary_quirks(out).get('instances vanished at target um/px', 0)
    lost = 0
    for row in read_manifest(str(tmp_path / 'out' / 'manifest.csv')):
        if not row['slide'].endswith(('_0000', '_0001')):
            continue  # plain patches: ids as in the download
        fold, index = re.match(r'pannuke_fold(\d)_(\d{4})$', row['slide']).groups()
        raw_ids = np.load(pannuke_paths(download[0], int(fold))['masks'])[int(index)][..., :5]
        ids = cv2.imread(str(tmp_path / 'out' / row['instance']), cv2.IMREAD_UNCHANGED)
        assert row['mpp'] == '0.5' and (ids[SIZE // 2:] == 0).all()  # 24 px, padded
        before, after = set(np.unique(raw_ids)) - {0}, set(np.unique(ids)) - {0}
        assert after <= before
        lost += len(before - after)
    assert lost <= vanished
