"""NuInsSeg converter on a synthetic archive in the real layout."""
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import tifffile
from sklearn.model_selection import KFold

from crossspec_mmseg.converters import ImageReadError, convert_nuinsseg, kfold_assignments
from crossspec_mmseg.converters.nuinsseg import discover_nuinsseg, natural_key, parse_folder_name
from crossspec_mmseg.datasets import read_manifest
from crossspec_mmseg.demo.raw_downloads import write_nuinsseg_raw


@pytest.fixture(scope='module')
def raw(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('nuinsseg_raw'))
    write_nuinsseg_raw(root, size=48, seed=3)
    return root


@pytest.mark.parametrize('n', [5, 23, 665])
def test_folds_equal_sklearn_kfold(n):
    expected = np.empty(n, int)
    for fold, (_, test) in enumerate(KFold(5, shuffle=True, random_state=19).split(range(n))):
        expected[test] = fold
    assert (kfold_assignments(n) == expected).all()


def test_folder_names_and_natural_order():
    assert parse_folder_name('human salivory gland') == ('human', 'salivory gland', '')
    assert parse_folder_name('mouse fat (white and brown)_subscapula') == (
        'mouse', 'fat (white and brown)', 'subscapula')
    assert sorted(['a_10', 'a_2', 'a_1'], key=natural_key) == ['a_1', 'a_2', 'a_10']


def test_masks_and_manifest_match_independent_reading(raw, tmp_path):
    out = str(tmp_path / 'out')
    summary = convert_nuinsseg(raw, out)
    rows = read_manifest(osp.join(out, 'manifest.csv'))
    items = discover_nuinsseg(raw)
    assert len(rows) == len(items) == sum(summary.written.values()) == 23
    by_slide = {r['slide']: r for r in rows}
    vague_seen = 0
    for item in items:
        row = by_slide[item.stem]
        folder_species, organ = item.folder.split(' ', 1)
        assert row['species'] == folder_species and row['organ'] == organ.split('_')[0]
        assert row['split'] == f'fold{item.fold}' and row['scale'] == '1.0'
        instances = tifffile.imread(item.instances)
        expected = (instances > 0).astype(np.uint8)
        if item.vague:
            vague_seen += 1
            expected[cv2.imread(item.vague, cv2.IMREAD_UNCHANGED) == 255] = 255
        mask = cv2.imread(osp.join(out, row['mask']), cv2.IMREAD_UNCHANGED)
        assert (mask == expected).all(), item.stem
        source = cv2.imread(item.image, cv2.IMREAD_UNCHANGED)[..., :3]  # drop alpha
        assert (cv2.imread(osp.join(out, row['image'])) == source).all()
    assert vague_seen > 0
    assert {r['location'] for r in rows} == {'', 'tibia'}


def test_truncated_image_is_named(raw, tmp_path):
    broken = str(tmp_path / 'raw')
    os.makedirs(osp.join(broken, 'human kidney', 'tissue images'))
    os.makedirs(osp.join(broken, 'human kidney', 'label masks modify'))
    src = osp.join(raw, 'human kidney', 'tissue images', 'human_kidney_1.png')
    data = open(src, 'rb').read()
    for n in range(1, 6):
        with open(osp.join(broken, 'human kidney', 'tissue images', f'human_kidney_{n}.png'),
                  'wb') as f:
            f.write(data[:len(data) // 2] if n == 4 else data)
        tifffile.imwrite(osp.join(broken, 'human kidney', 'label masks modify',
                                  f'human_kidney_{n}.tif'), np.zeros((48, 48), np.uint16))
    with pytest.raises(ImageReadError, match='human_kidney_4.png: unreadable'):
        convert_nuinsseg(broken, str(tmp_path / 'out'))
    # Nothing half-written: no manifest, no temp files.
    out_files = [f for _, _, fs in os.walk(tmp_path / 'out') for f in fs]
    assert 'manifest.csv' not in out_files and not any('.tmp' in f for f in out_files)


def test_mask_size_mismatch_is_named(raw, tmp_path):
    import shutil
    copy = str(tmp_path / 'raw')
    shutil.copytree(raw, copy)
    bad = osp.join(copy, 'mouse spleen', 'label masks modify', 'mouse_spleen_2.tif')
    tifffile.imwrite(bad, np.zeros((10, 12), np.uint16))
    with pytest.raises(ValueError, match=r'mouse_spleen_2.tif: mask size \(10, 12\) differs'):
        convert_nuinsseg(copy, str(tmp_path / 'out'))
