"""Orbit converter: masks from the Java-written fixture blobs, species, errors."""
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from skimage.draw import polygon2mask

from crossspec_mmseg.converters import convert_orbit
from crossspec_mmseg.converters.orbit import SLIDE_TABLE_CSV, read_slide_table
from crossspec_mmseg.demo.raw_downloads import write_orbit_raw
from crossspec_mmseg.structures import read_manifest
from helpers import ORBIT_BLOBS_DIR, orbit_expected

EXPECTED = orbit_expected()


def expected_mask(slide, shape):
    """Independent rasterisation of expected.json: ROI, glomeruli, exclusions."""
    records = [a for a in EXPECTED if a['raw_data_file_id'] == slide and 'blob' in a]
    rois = [a for a in records if a['sub_type'] == 3]
    mask = np.full(shape, 255 if rois else 0, np.uint8)

    def points(a):
        if 'rect_full_resolution' in a:
            x, y, w, h = a['rect_full_resolution']
            return np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]])
        return np.array(a['points_full_resolution'])
    for sub_type, value in ((3, 0), (0, 1), (2, 255)):
        for a in records:
            if a['sub_type'] == sub_type:
                mask[polygon2mask(shape, points(a)[:, ::-1])] = value
    return mask


@pytest.fixture(scope='module')
def raw(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('orbit_raw'))
    return root, write_orbit_raw(root, ORBIT_BLOBS_DIR, shape=(240, 320))


def test_masks_species_and_split(raw, tmp_path):
    root, groups = raw
    out = str(tmp_path / 'out')
    convert_orbit(root, out, slide_table=groups, tile=64, overlap=0.5, min_tissue=0)
    rows = read_manifest(osp.join(out, 'manifest.csv'))
    species = {r['slide']: (r['species'], r['split'], r['stain']) for r in rows}
    assert species == {'4711': ('mouse', 'train', 'H&E'), '4712': ('rat', 'test', 'PAS')}
    for slide in (4711, 4712):
        full = expected_mask(slide, (240, 320))
        for row in (r for r in rows if r['slide'] == str(slide)):
            x, y = int(row['x']), int(row['y'])
            got = cv2.imread(osp.join(out, row['mask']), cv2.IMREAD_UNCHANGED)
            assert (got == full[y:y + 64, x:x + 64]).all(), (slide, x, y)
    values = {v for r in rows for v in np.unique(cv2.imread(osp.join(out, r['mask']), 0))}
    assert values == {0, 1, 255}


def test_shipped_groups_table_covers_88_slides():
    table = read_slide_table(SLIDE_TABLE_CSV)
    assert len(table) == 88
    assert {r['species'] for r in table.values()} == {'mouse', 'rat'}


def test_annotation_for_missing_slide_is_named(raw, tmp_path):
    root, groups = raw
    import shutil
    copy = str(tmp_path / 'raw')
    shutil.copytree(root, copy)
    os.remove(osp.join(copy, 'test', '4712.tiff'))
    with pytest.raises(ValueError, match=r"not in the download: \['4712 \(4712\)'\]"):
        convert_orbit(copy, str(tmp_path / 'out'), slide_table=groups, tile=64)


def test_slide_missing_from_groups_table(raw, tmp_path):
    root, _ = raw
    with pytest.raises(ValueError, match='slide 4711 is not in the slide table'):
        convert_orbit(root, str(tmp_path / 'out'), tile=64)  # shipped table: real ids only


def test_match_by_filename_stem(raw, tmp_path):
    """Slides named by FILENAME (not the id) still get their annotations."""
    root, groups = raw
    import shutil
    import sqlite3
    copy = str(tmp_path / 'raw')
    shutil.copytree(root, copy)
    con = sqlite3.connect(osp.join(copy, 'orbit.db'))
    con.execute("UPDATE RAW_DATA_FILE SET FILENAME='slideA.tiff' WHERE RAW_DATA_FILE_ID=4711")
    con.commit()
    con.close()
    os.rename(osp.join(copy, 'train', '4711.tiff'), osp.join(copy, 'train', 'slideA.tiff'))
    with open(groups) as f:
        table = f.read().replace('4711,', 'slideA,')
    with open(osp.join(copy, 'groups.csv'), 'w') as f:
        f.write(table)
    convert_orbit(copy, str(tmp_path / 'out'), slide_table=osp.join(copy, 'groups.csv'), tile=64,
                  min_tissue=0)
    rows = [r for r in read_manifest(str(tmp_path / 'out' / 'manifest.csv'))
            if r['slide'] == 'slideA']
    assert any(cv2.imread(str(tmp_path / 'out' / r['mask']), 0).max() == 1 for r in rows)
