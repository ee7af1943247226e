"""HuBMAP converter: every TIFF layout, RLE masks, anatomy masks, tissue test, errors."""
import csv
import json
import os.path as osp
import shutil

import cv2
import numpy as np
import pytest
import tifffile
from skimage.draw import polygon2mask

from crossspec_mmseg.converters import convert_hubmap
from crossspec_mmseg.demo.raw_downloads import HUBMAP_LAYOUTS, write_hubmap_raw
from crossspec_mmseg.slides import RLEError, rle_decode
from crossspec_mmseg.structures import read_manifest


@pytest.fixture(scope='module')
def raw(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('hubmap_raw'))
    ids = write_hubmap_raw(root, n_slides=4, shape=(300, 400), seed=5)
    return root, ids


def expected_window(full, row, tile, interpolation, fill):
    x, y, w, h = (int(row[k]) for k in ('x', 'y', 'width', 'height'))
    side = round(tile / float(row['scale']))
    window = np.full((side, side) + full.shape[2:], fill, full.dtype)
    window[:h, :w] = full[y:y + h, x:x + w]
    return cv2.resize(window, (tile, tile), interpolation=interpolation)


def anatomy_full(json_path, shape):
    out = np.zeros(shape, np.uint8)
    for value, names in ((1, {'cortex'}), (2, {'medulla', 'outer stripe', 'inner medulla',
                                               'outer medulla'})):
        for feature in json.load(open(json_path)):
            if feature['properties']['classification']['name'].lower() in names:
                ring = np.array(feature['geometry']['coordinates'][0])
                out[polygon2mask(shape, ring[:, ::-1])] = value
    return out


def test_all_layouts_pixel_exact(raw, tmp_path):
    root, ids = raw
    out = str(tmp_path / 'out')
    convert_hubmap(root, out, scale=0.5, tile=64, overlap=0.5, anatomy=True)
    rows = read_manifest(osp.join(out, 'manifest.csv'))
    encodings = dict(csv.reader(open(osp.join(root, 'train.csv'))))
    assert {r['slide'] for r in rows} == set(ids)
    for image_id in ids:
        image = tifffile.imread(osp.join(root, 'train', f'{image_id}.tiff'))
        image = image.reshape(-1, *image.shape[-2:]) if image.shape[-1] != 3 else image
        if image.shape[0] == 3:
            image = np.moveaxis(image, 0, -1)
        assert image.shape == (300, 400, 3)
        mask = rle_decode(encodings[image_id], image.shape[:2])
        anatomy = anatomy_full(osp.join(root, 'train', f'{image_id}-anatomical-structure.json'),
                               image.shape[:2])
        slide_rows = [r for r in rows if r['slide'] == image_id]
        assert slide_rows and all(r['species'] == 'human' and r['dataset'] == 'hubmap'
                                  for r in slide_rows)
        for row in slide_rows:
            got = cv2.imread(osp.join(out, row['mask']), cv2.IMREAD_UNCHANGED)
            assert (got == expected_window(mask, row, 64, cv2.INTER_NEAREST, 255)).all()
            got = cv2.imread(osp.join(out, row['masks_anatomy']), cv2.IMREAD_UNCHANGED)
            assert (got == expected_window(anatomy, row, 64, cv2.INTER_NEAREST, 255)).all()
            got = cv2.imread(osp.join(out, row['image']))[..., ::-1]
            assert (got == expected_window(image, row, 64, cv2.INTER_AREA, 0)).all()
    groups = {r['slide']: r['case'] for r in rows}
    assert groups[ids[0]] == groups[ids[1]] != groups[ids[2]]  # patient grouping
    assert any(cv2.imread(osp.join(out, r['mask']), 0).any() for r in rows)


def test_tissue_test_drops_background_unless_keep_all(raw, tmp_path):
    root, ids = raw
    kept = convert_hubmap(root, str(tmp_path / 'a'), tile=32, overlap=0.0, min_tissue=0.0)
    dropped = convert_hubmap(root, str(tmp_path / 'b'), tile=32, overlap=0.0)
    assert sum(kept.written.values()) == 4 * 10 * 13  # ceil(300/32) x ceil(400/32)
    assert 0 < sum(dropped.skipped_background.values())
    assert sum(dropped.written.values()) + sum(dropped.skipped_background.values()) == 520


@pytest.mark.parametrize('corruption, message', [
    (lambda root, ids: _replace_encoding(root, ids[1], '1 2 3'),
     'train.csv id {1}: odd number of tokens'),
    (lambda root, ids: _replace_encoding(root, ids[0], '119990 20'),
     'train.csv id {0}: run reaches pixel'),
    (lambda root, ids: json.dump([{'geometry': {'type': 'Polygon'}, 'properties': {}}],
                                 open(osp.join(root, 'train',
                                               f'{ids[2]}-anatomical-structure.json'), 'w')),
     '{2}-anatomical-structure.json: feature 0 has no geometry.coordinates'),
    (lambda root, ids: open(osp.join(root, 'train', f'{ids[3]}.tiff'), 'r+b').truncate(200),
     '{3}.tiff: cannot read TIFF'),
])
def test_bad_inputs_are_named(raw, tmp_path, corruption, message):
    root, ids = raw
    copy = str(tmp_path / 'raw')
    shutil.copytree(root, copy)
    corruption(copy, ids)
    with pytest.raises((RLEError, ValueError), match=message.format(*ids)):
        convert_hubmap(copy, str(tmp_path / 'out'), tile=64, anatomy=True)
    assert not osp.exists(osp.join(tmp_path, 'out', 'manifest.csv'))


def _replace_encoding(root, image_id, encoding):
    path = osp.join(root, 'train.csv')
    rows = list(csv.reader(open(path)))
    rows = [[r[0], encoding] if r[0] == image_id else r for r in rows]
    csv.writer(open(path, 'w', newline='')).writerows(rows)


def test_layouts_are_the_ones_in_the_spec():
    assert set(HUBMAP_LAYOUTS) == {'YXS', 'SYX', '11SYX', 'pages'}


def _splits(out):
    return {row['slide']: row['split'] for row in read_manifest(osp.join(out, 'manifest.csv'))}


def test_split_column_holds_the_held_out_slides_and_reruns_relabel(tmp_path):
    """Published held-out slides are val/test in the manifest (configs select by split);
    a rerun with another split table only rewrites the manifest (tiles resume)."""
    from crossspec_mmseg.converters.hubmap import HELD_OUT_SLIDES
    raw = str(tmp_path / 'raw')
    ids = write_hubmap_raw(raw, n_slides=3, shape=(128, 160), seed=2,
                           slide_ids=['1e2425f28', 'b9a3865fc', '0486052bb'])
    out = str(tmp_path / 'out')
    convert_hubmap(raw, out, tile=64, min_tissue=0)
    assert _splits(out) == {i: HELD_OUT_SLIDES.get(i, 'train') for i in ids}
    assert set(_splits(out).values()) == {'val', 'test', 'train'}

    table = tmp_path / 'splits.csv'
    table.write_text('id,split\n0486052bb,test\n')
    summary = convert_hubmap(raw, out, tile=64, min_tissue=0, splits_csv=str(table))
    assert summary.resumed == sum(summary.written.values())  # no tile rewritten
    assert _splits(out) == {'1e2425f28': 'train', 'b9a3865fc': 'train', '0486052bb': 'test'}


@pytest.mark.parametrize('text, message', [
    ('id,split\n0486052bb,holdout\n', "split 'holdout' of 0486052bb is not one of"),
    ('id,split\nnot_a_slide,val\n', 'split table names slides not in train.csv'),
    ('id,split\n0486052bb,val\n0486052bb,test\n', 'listed twice')])
def test_bad_split_table_is_refused(tmp_path, text, message):
    from crossspec_mmseg.converters.errors import BadDownloadError
    raw = str(tmp_path / 'raw')
    write_hubmap_raw(raw, n_slides=1, shape=(128, 160), slide_ids=['0486052bb'])
    table = tmp_path / 'splits.csv'
    table.write_text(text)
    with pytest.raises(BadDownloadError, match=message):
        convert_hubmap(raw, str(tmp_path / 'out'), tile=64, splits_csv=str(table))
    assert not osp.exists(tmp_path / 'out' / 'manifest.csv')
