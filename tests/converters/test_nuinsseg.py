"""NuInsSeg converter on a synthetic archive in the real layout."""
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import tifffile
from sklearn.model_selection import KFold

from crossspec_mmseg.converters import ImageReadError, convert_nuinsseg, kfold_assignments
from crossspec_mmseg.converters.errors import BadDownloadError
from crossspec_mmseg.converters.nuinsseg import discover_nuinsseg, natural_key, parse_folder_name
from crossspec_mmseg.demo.raw_downloads import write_nuinsseg_raw
from crossspec_mmseg.structures import read_manifest
from helpers import tree_digest


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
        assert row['fold'] == f'fold{item.fold}' and row['split'] == '' and row['scale'] == '1.0'
        assert row['case'] == row['slide'] == item.stem and row['mpp'] == '0.25'
        assert row['origin'] == 'nuinsseg' and row['patient'] == ''
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


def contour_reference(ids, width):
    """0/1/2 by looking at each nucleus pixel's neighbourhood inside the image."""
    out = np.zeros(ids.shape, np.uint8)
    for y, x in zip(*np.nonzero(ids)):
        window = ids[max(y - width, 0):y + width + 1, max(x - width, 0):x + width + 1]
        out[y, x] = 2 if (window != ids[y, x]).any() else 1
    return out


def test_instance_and_contour_tiles_and_byte_identical_rerun(raw, tmp_path):
    out = str(tmp_path / 'out')
    convert_nuinsseg(raw, out, tile=32, contour=1)  # 48 px images: border tiles are padded
    rows = read_manifest(osp.join(out, 'manifest.csv'))
    items = {item.stem: item for item in discover_nuinsseg(raw)}
    for row in rows:
        item = items[row['slide']]
        x, y = int(row['x']), int(row['y'])
        ids = tifffile.imread(item.instances)
        expected_ids = np.zeros((32, 32), np.uint16)
        expected_ids[:48 - y, :48 - x] = ids[y:y + 32, x:x + 32]
        tile_ids = cv2.imread(osp.join(out, row['instance']), cv2.IMREAD_UNCHANGED)
        assert tile_ids.dtype == np.uint16 and (tile_ids == expected_ids).all()
        contour = contour_reference(ids, 1)
        if item.vague:
            contour[cv2.imread(item.vague, cv2.IMREAD_UNCHANGED) == 255] = 255
        expected = np.full((32, 32), 255, np.uint8)
        expected[:48 - y, :48 - x] = contour[y:y + 32, x:x + 32]
        tile = cv2.imread(osp.join(out, row['mask_contour']), cv2.IMREAD_UNCHANGED)
        assert (tile == expected).all(), row['mask_contour']
    # Resume after losing tiles and a journal, and a fresh run: byte-identical.
    os.remove(osp.join(out, rows[0]['instance']))
    os.remove(osp.join(out, rows[5]['mask_contour']))
    os.remove(osp.join(out, '.journal', f'{rows[5]["slide"]}.csv'))
    os.remove(osp.join(out, '.journal', f'{rows[0]["slide"]}.csv'))
    convert_nuinsseg(raw, out, tile=32, contour=1)
    fresh = str(tmp_path / 'fresh')
    convert_nuinsseg(raw, fresh, tile=32, contour=1)
    assert tree_digest(out) == tree_digest(fresh)


def test_manifest_without_instance_column_still_loads(raw, tmp_path):
    from crossspec_mmseg.datasets import NuInsSegDataset
    from crossspec_mmseg.structures import write_manifest
    out = str(tmp_path / 'out')
    convert_nuinsseg(raw, out)
    rows = read_manifest(osp.join(out, 'manifest.csv'))
    assert all(row['instance'].startswith('instances/') for row in rows)
    write_manifest(osp.join(out, 'old.csv'), [
        {k: v for k, v in row.items() if k != 'instance'} for row in rows])
    for ann_file, has_instances in (('manifest.csv', True), ('old.csv', False)):
        dataset = NuInsSegDataset(data_root=out, ann_file=ann_file, check_pixels=False,
                                  pipeline=[])
        assert ('instance_path' in dataset.get_data_info(0)) == has_instances


def test_rerun_with_contour_adds_it_to_a_finished_conversion(raw, tmp_path):
    out = str(tmp_path / 'out')
    convert_nuinsseg(raw, out)
    convert_nuinsseg(raw, out, contour=1)
    fresh = str(tmp_path / 'fresh')
    convert_nuinsseg(raw, fresh, contour=1)
    assert all(row['mask_contour'] for row in read_manifest(osp.join(out, 'manifest.csv')))
    assert tree_digest(out) == tree_digest(fresh)


def test_resume_with_another_contour_width_is_refused(raw, tmp_path):
    out = str(tmp_path / 'out')
    convert_nuinsseg(raw, out, contour=1)
    with pytest.raises(BadDownloadError, match=r"masks_contour/ was written with \{'width': 1\}"):
        convert_nuinsseg(raw, out, contour=2)
