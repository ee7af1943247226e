"""CoNSeP converter on a synthetic download in the distributed layout; outputs
read back with cv2/PIL/scipy, bad inputs through the CLI."""
import csv
import os
import os.path as osp
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest
import scipy.io
from PIL import Image

from crossspec_mmseg.converters.consep import (
    CONSEP_CLASSES,
    TYPE_MAP_DISAGREES,
    TYPED_BACKGROUND,
    UNTYPED,
    read_consep_labels,
)
from crossspec_mmseg.converters.errors import BadInputError
from crossspec_mmseg.converters.nuclei import held_out
from crossspec_mmseg.demo.downloads.consep import write_consep_raw
from helpers import REPO, run_tool, tree_digest

CLI = 'tools/dataset_converters/consep.py'


def converter(*args):
    """The CLI in this interpreter: ``(exit code, stdout, stderr)``."""
    proc = run_tool([CLI, *map(str, args)], '', check=False, fresh=False)
    return proc.returncode, proc.stdout, proc.stderr


def rows_of(out):
    with open(osp.join(out, 'manifest.csv'), newline='') as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope='module')
def raw(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('consep_raw'))
    write_consep_raw(root, n_train=5, n_test=2, shape=(72, 88), seed=5)
    return root


@pytest.fixture(scope='module')
def converted(raw, tmp_path_factory):
    out = str(tmp_path_factory.mktemp('consep_out') / 'out')
    code, stdout, stderr = converter(raw, out, '--tile', 64)
    assert code == 0, stderr
    return out, stdout


def test_held_out_is_fixed_by_the_names():
    names = [f'train_{k}' for k in range(1, 28)]
    val = held_out(names, 0.2, 'consep')
    assert len(val) == 5 and val == held_out(names[::-1], 0.2, 'consep')
    assert held_out(names, 0.0, 'consep') == set()
    assert len(held_out(['a', 'b'], 0.2, 'x')) == 1  # at least one, never all
    assert held_out(['a'], 0.5, 'x') == set()
    with pytest.raises(ValueError, match='outside'):
        held_out(names, 1.0, 'consep')


def test_types_come_from_inst_type_and_type_map_is_checked(tmp_path):
    assert CONSEP_CLASSES == ('background', 'other', 'inflammatory', 'healthy_epithelial',
                              'malignant_epithelial', 'fibroblast', 'muscle', 'endothelial')
    inst = np.zeros((6, 8))
    inst[0:2, 0:2], inst[3:5, 0:3], inst[0:3, 5:8] = 1, 2, 4  # id 3 absent
    inst_type = np.array([[3.0], [0.0], [6.0], [7.0]])
    type_map = np.zeros((6, 8), np.int32)
    type_map[inst == 1] = 3
    type_map[inst == 4] = 5  # disagrees with inst_type 7
    type_map[5, 7] = 2  # typed background pixel
    path = str(tmp_path / 'a.mat')
    scipy.io.savemat(path, dict(inst_map=inst, inst_type=inst_type, type_map=type_map,
                                inst_centroid=np.zeros((4, 2))))
    labels = read_consep_labels(path)
    assert labels.instances.dtype == np.int32 and (labels.instances == inst).all()
    expected = np.zeros((6, 8), np.uint8)
    expected[inst == 1], expected[inst == 2], expected[inst == 4] = 3, 255, 7
    assert (labels.types == expected).all()
    assert labels.quirks == {TYPE_MAP_DISAGREES: 1, TYPED_BACKGROUND: 1, UNTYPED: 1}


def test_unreadable_mat_is_named(tmp_path):
    path = tmp_path / 'b.mat'
    path.write_bytes(b'\x00' * 10)
    with pytest.raises(BadInputError, match=f'{path}: unreadable .mat'):
        read_consep_labels(str(path))


def test_tiles_match_the_download(raw, converted):
    out, stdout = converted
    assert '7 sources' in stdout
    rows = rows_of(out)
    for row in rows:
        split_dir = 'Test' if row['slide'].startswith('test') else 'Train'
        rgba = np.asarray(Image.open(osp.join(raw, split_dir, 'Images', f'{row["slide"]}.png')))
        mat = scipy.io.loadmat(osp.join(raw, split_dir, 'Labels', f'{row["slide"]}.mat'))
        ids = mat['inst_map'].astype(np.int64)
        types = np.concatenate([[0], mat['inst_type'][:, 0]]).astype(np.uint8)[ids]
        x, y = int(row['x']), int(row['y'])
        window = np.s_[y:y + 64, x:x + 64]
        tile = np.asarray(Image.open(osp.join(out, row['image'])))
        assert tile.shape == (64, 64, 3) and (tile == rgba[window][..., :3]).all()
        assert (np.asarray(Image.open(osp.join(out, row['mask']))) == types[window]).all()
        instance = cv2.imread(osp.join(out, row['instance']), cv2.IMREAD_UNCHANGED)
        assert instance.dtype == np.uint16 and (instance == ids[window]).all()
        assert (row['dataset'], row['species'], row['organ'], row['origin'], row['patient'],
                row['fold'], row['case'], row['mpp']) == (
            'consep', 'human', 'colon', 'consep', '', '', row['slide'], '0.25')
    splits = {r['slide']: r['split'] for r in rows}
    assert {s for n, s in splits.items() if n.startswith('test')} == {'test'}
    assert sorted(splits.values()).count('val') == 1  # round(0.2 * 5) of Train/
    assert not any('Overlay' in r['image'] for r in rows)


@pytest.mark.heavy
def test_cli_in_a_fresh_interpreter_gives_the_same_bytes(raw, converted, tmp_path):
    out = str(tmp_path / 'out')
    proc = subprocess.run([sys.executable, CLI, raw, out, '--tile', '64'], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert tree_digest(out) == tree_digest(converted[0])


def test_rerun_resumes_byte_identical(converted, tmp_path, raw):
    out = str(tmp_path / 'out')
    shutil.copytree(converted[0], out)
    rows = rows_of(out)
    os.remove(osp.join(out, rows[0]['mask']))
    os.remove(osp.join(out, '.journal', f'{rows[0]["slide"]}.csv'))
    code, stdout, stderr = converter(raw, out, '--tile', 64)
    assert code == 0 and 'tiles already present' in stdout, stderr
    assert tree_digest(out) == tree_digest(converted[0])


@pytest.mark.parametrize('fault, file, problem', [
    ('truncated_png', 'Images/train_2.png', 'truncated image'),
    ('missing_mat', 'Labels/train_2.mat', 'is missing'),
    ('not_mat', 'Labels/train_2.mat', 'unreadable .mat'),
    ('no_inst_map', 'Labels/train_2.mat', "keys ['inst_map'] missing"),
    ('fractional_inst_map', 'Labels/train_2.mat', 'inst_map holds 1.5'),
    ('short_inst_type', 'Labels/train_2.mat', 'rows'),
    ('bad_type', 'Labels/train_2.mat', 'not a CoNSeP type'),
    ('size_mismatch', 'Labels/train_2.mat', 'inst_map is (39, 48)'),
])
def test_bad_input_named_then_skipped(tmp_path, fault, file, problem):
    raw = str(tmp_path / 'raw')
    write_consep_raw(raw, n_train=2, n_test=1, shape=(40, 48), faults={'train_2': fault})
    out = str(tmp_path / 'out')
    code, _, stderr = converter(raw, out)
    lines = stderr.strip().splitlines()
    assert code == 1 and 'Traceback' not in stderr, stderr
    assert lines[0].startswith(f'error: {osp.join(raw, "Train", file)}'), stderr
    assert problem in lines[0], stderr
    code, stdout, stderr = converter(raw, out, '--skip-bad')
    assert code == 0 and '1 bad inputs skipped' in stdout, stderr
    assert {r['slide'] for r in rows_of(out)} == {'train_1', 'test_1'}
    with open(osp.join(out, 'skipped.csv')) as f:
        skipped = list(csv.DictReader(f))
    assert len(skipped) == 1 and problem in skipped[0]['error']
    assert not [f for f in os.listdir(osp.join(out, 'images')) if f.startswith('train_2')]


def test_type_map_disagreement_is_counted_not_refused(tmp_path):
    raw = str(tmp_path / 'raw')
    write_consep_raw(raw, n_train=1, n_test=0, shape=(40, 48),
                     faults={'train_1': 'type_map_disagrees'})
    code, stdout, stderr = converter(raw, tmp_path / 'out', '--val-fraction', 0)
    assert code == 0, stderr
    assert f'{TYPE_MAP_DISAGREES}: 1' in stdout
