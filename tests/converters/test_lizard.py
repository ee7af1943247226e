"""Lizard and CoNIC converter on synthetic downloads in the distributed layouts:
the CLI as a user runs it, tiles read back with OpenCV/PIL against the raw
``.mat``/``.npy``, quirks counted, bad label files, resume, dataset class."""
import os.path as osp
import re
import shutil

import cv2
import numpy as np
import pytest
import scipy.io
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS
from PIL import Image

from crossspec_mmseg.demo.downloads.lizard import (
    LIZARD_IMAGES,
    corrupt_conic,
    corrupt_lizard,
    lizard_label_path,
    write_conic_raw,
    write_lizard_raw,
)
from crossspec_mmseg.structures import read_manifest
from helpers import run_tool

TILE = 32


@pytest.fixture(scope='module')
def lizard(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('lizard_raw'))
    return root, write_lizard_raw(root, seed=2)


@pytest.fixture(scope='module')
def conic(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('conic_raw'))
    return root, write_conic_raw(root, patches=6, size=TILE, seed=3)


def cli(*args, fresh=False):
    proc = run_tool(['tools/dataset_converters/lizard.py', *map(str, args)], '', check=False,
                    fresh=fresh)
    return proc.returncode, proc.stdout, proc.stderr


def summary_quirks(stdout):
    return {what: int(n) for what, n in re.findall(r'([a-z][a-z0-9 ./_]+): (\d+)',
                                                   stdout.split('quirks: ')[1])}


def stitch(out, rows, column, shape, dtype):
    """A whole image put back together from its tiles (read with OpenCV)."""
    whole = np.zeros(shape, dtype)
    for row in rows:
        x, y, w, h = (int(row[k]) for k in ('x', 'y', 'width', 'height'))
        tile = cv2.imread(osp.join(out, row[column]), cv2.IMREAD_UNCHANGED)
        whole[y:y + h, x:x + w] = tile[:h, :w]
    return whole


def test_lizard_cli_tiles_match_the_mat_files(lizard, tmp_path):
    root, planted = lizard
    out = str(tmp_path / 'out')
    code, stdout, err = cli(root, out, '--tile', TILE, fresh=True)  # a fresh interpreter
    assert code == 0, err
    assert summary_quirks(stdout) == dict(planted)
    rows = read_manifest(osp.join(out, 'manifest.csv'))
    info = {r[0]: r[2] for r in (line.split(',') for line in open(osp.join(
        root, 'lizard_labels', 'Lizard_Labels', 'info.csv')).read().split()[1:])}
    for stem, shape in LIZARD_IMAGES.items():
        mine = [r for r in rows if r['slide'] == stem]
        assert {(r['dataset'], r['case'], r['origin'], r['fold'], r['split'], r['mpp'])
                for r in mine} == {('lizard', stem, stem.split('_')[0], f'fold{info[stem]}',
                                    '', '0.5')}
        mat = scipy.io.loadmat(lizard_label_path(root, stem))
        inst = mat['inst_map']
        classes = dict(zip(mat['id'].ravel().tolist(), mat['class'].ravel().tolist()))
        expected = np.vectorize(lambda i: 0 if i == 0 else classes.get(i, 255))(inst)
        ids = stitch(out, mine, 'instance', shape, np.uint16)
        types = stitch(out, mine, 'mask', shape, np.uint8)
        assert (ids == inst).all() and ids.max() > 255 and (types == expected).all()
        image = np.asarray(Image.open(next(
            p for p in (osp.join(root, f'lizard_images{k}', f'Lizard_Images{k}', f'{stem}.png')
                        for k in (1, 2)) if osp.isfile(p))))
        assert (stitch(out, mine, 'image', shape + (3,), np.uint8)[..., ::-1] == image).all()


def test_conic_detected_and_loaded_by_the_dataset(conic, tmp_path):
    root, planted = conic
    out = str(tmp_path / 'out')
    code, stdout, err = cli(root, out, '--tile', TILE)
    assert code == 0, err
    assert summary_quirks(stdout) == dict(planted)
    rows = read_manifest(osp.join(out, 'manifest.csv'))
    labels = np.load(osp.join(root, 'labels.npy'))
    assert len(rows) == 6
    for k, row in enumerate(rows):
        source = list(LIZARD_IMAGES)[k // 2]
        assert (row['dataset'], row['slide'], row['case'], row['origin']) == (
            'conic', source, source, source.split('_')[0])
        ids = cv2.imread(osp.join(out, row['instance']), cv2.IMREAD_UNCHANGED)
        types = cv2.imread(osp.join(out, row['mask']), cv2.IMREAD_UNCHANGED)
        assert (ids == labels[k, ..., 0]).all()
        clean = (types != 255)
        assert (types[clean] == labels[k, ..., 1][clean]).all()
        assert clean.all() == (k > 1)  # patch 0: a two-class nucleus, 1: stray class pixels
    init_default_scope('mmseg')
    dataset = DATASETS.build(dict(
        type='LizardDataset', data_root=out,
        pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
                  dict(type='LoadInstanceMap'),
                  dict(type='PackSegInputsWithInstances', meta_keys=('img_path', 'case'))]))
    sample = dataset[3]['data_samples']
    assert (sample.gt_instance_map.data[0].numpy() == labels[3, ..., 0]).all()
    assert (sample.gt_sem_seg.data[0].numpy() == labels[3, ..., 1]).all()
    assert len(dataset.metainfo['classes']) == 7


@pytest.mark.parametrize('how, message', [
    ('no inst_map', "no 'inst_map' in the .mat"), ('unknown class', 'unknown class 9'),
    ('truncate', 'unreadable .mat')])
def test_bad_label_file_is_named_skipped_and_resumed(lizard, tmp_path, how, message):
    raw = tmp_path / 'raw'
    shutil.copytree(lizard[0], raw)
    path = lizard_label_path(str(raw), 'glas_4')
    good = open(path, 'rb').read()
    corrupt_lizard(str(raw), 'glas_4', how)
    code, _, err = cli(raw, tmp_path / 'out', '--tile', TILE)
    assert code == 1 and 'Traceback' not in err and len(err.strip().splitlines()) <= 2, err
    assert err.startswith(f'error: {path}: ') and message in err, err
    code, _, err = cli(raw, tmp_path / 'out', '--tile', TILE, '--skip-bad')
    assert code == 0, err
    rows = read_manifest(str(tmp_path / 'out' / 'manifest.csv'))
    assert 'glas_4' not in {r['slide'] for r in rows} and len({r['slide'] for r in rows}) == 4
    with open(path, 'wb') as f:
        f.write(good)
    code, stdout, err = cli(raw, tmp_path / 'out', '--tile', TILE)
    assert code == 0 and f'{len(rows)} tiles already present' in stdout, err


def test_conic_truncated_labels_are_named(conic, tmp_path):
    raw = tmp_path / 'raw'
    shutil.copytree(conic[0], raw)
    bad = corrupt_conic(str(raw), 'truncate')
    code, _, err = cli(raw, tmp_path / 'out')
    assert code == 1 and err.startswith(f'error: {bad}: unreadable .npy'), err
    raw2 = tmp_path / 'raw2'
    shutil.copytree(conic[0], raw2)
    corrupt_conic(str(raw2), 'unknown class')
    code, _, err = cli(raw2, tmp_path / 'out2', '--tile', TILE, '--skip-bad')
    assert code == 0, err
    assert len(read_manifest(str(tmp_path / 'out2' / 'manifest.csv'))) == 5
    with open(tmp_path / 'out2' / 'skipped.csv') as f:
        assert 'patch 2: unknown class 8' in f.read()


def test_other_nuclei_datasets_are_registered():
    init_default_scope('mmseg')
    consep = DATASETS.get('CoNSePDataset').METAINFO['classes']
    monusac = DATASETS.get('MoNuSACDataset').METAINFO['classes']
    assert consep[4] == 'malignant_epithelial' and len(consep) == 8
    assert monusac == ('background', 'epithelial', 'lymphocyte', 'neutrophil', 'macrophage')


def test_lizard_mpp_keeps_ids_and_counts_the_vanished(lizard, tmp_path):
    root, _ = lizard
    code, stdout, err = cli(root, tmp_path / 'out', '--tile', TILE, '--mpp', '1.0')
    assert code == 0, err
    vanished = summary_quirks(stdout).get('instances vanished at target um/px', 0)
    rows = read_manifest(str(tmp_path / 'out' / 'manifest.csv'))
    lost = 0
    for stem, (h, w) in LIZARD_IMAGES.items():
        mine = [r for r in rows if r['slide'] == stem]
        assert {r['mpp'] for r in mine} == {'1.0'}
        ids = stitch(str(tmp_path / 'out'), mine, 'instance', (h // 2, w // 2), np.uint16)
        source = set(np.unique(scipy.io.loadmat(lizard_label_path(root, stem))['inst_map']))
        assert set(np.unique(ids)) <= source
        lost += len(source - set(np.unique(ids)))
    assert lost == vanished
