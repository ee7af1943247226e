"""Orbit blobs and orbit.db against the Java-written fixture and its expected values."""
import os.path as osp
import sqlite3

import numpy as np
import pytest

from crossspec_mmseg.converters import OrbitBlobError, decode_orbit_blob, read_orbit_db
from helpers import ORBIT_FIXTURE, orbit_expected

FIXTURE = ORBIT_FIXTURE
CORPUS = osp.join(osp.dirname(__file__), '..', 'reliability', 'corrupt_inputs')
EXPECTED = orbit_expected()


def blob(name):
    with open(osp.join(FIXTURE, 'blobs', f'{name}.bin'), 'rb') as f:
        return f.read()


def java_point_blob():
    """A valid Java stream whose shape is a java.awt.Point (not an Orbit shape)."""
    return open(osp.join(CORPUS, 'java_point.bin'), 'rb').read()


@pytest.mark.parametrize('record', [a for a in EXPECTED if 'blob' in a],
                         ids=lambda a: a['blob'])
def test_decoded_values_match_expected(record):
    shape = decode_orbit_blob(blob(osp.splitext(osp.basename(record['blob']))[0]))
    assert shape.color_argb == record['color_argb']
    assert shape.stored_percent == record['scale']  # the Java field's name
    with pytest.warns(DeprecationWarning, match='use stored_percent'):
        assert shape.scale == record['scale']
    assert shape.sub_type == record['sub_type'] and shape.annotation_group == record['group']
    if record['shape'] == 'PolygonExt':
        assert shape.kind == 'polygon' and len(shape.points) == record['npoints']
        np.testing.assert_allclose(shape.stored, record['points_stored'])
        np.testing.assert_allclose(shape.points, record['points_full_resolution'])
    else:
        x, y, w, h = record['rect_full_resolution']
        np.testing.assert_allclose(shape.stored, record['rect_stored'])
        np.testing.assert_allclose(shape.points, [[x, y], [x + w, y], [x + w, y + h], [x, y + h]])


def test_db_reads_only_image_annotations_and_stays_unchanged():
    path = osp.join(FIXTURE, 'orbit.db')
    before = open(path, 'rb').read()
    files = read_orbit_db(path)
    expected = {}
    for a in EXPECTED:
        if a['raw_annotation_type'] == 0:
            expected.setdefault(str(a['raw_data_file_id']), []).append(a['sub_type'])
    assert {k: [s.sub_type for s in v['shapes']] for k, v in files.items()} == expected
    assert open(path, 'rb').read() == before


def test_truncated_blob_names_record():
    with pytest.raises(OrbitBlobError, match='RAW_ANNOTATION_ID 9: not a complete Java'):
        decode_orbit_blob(blob('glom_a')[:120], record='orbit.db RAW_ANNOTATION_ID 9')


def test_blob_of_another_java_class_is_rejected():
    with pytest.raises(OrbitBlobError, match='unknown shape class java.awt.Point'):
        decode_orbit_blob(java_point_blob())


def test_db_without_tables(tmp_path):
    path = tmp_path / 'orbit.db'
    sqlite3.connect(path).execute('CREATE TABLE OTHER (A INTEGER)').connection.commit()
    with pytest.raises(ValueError, match=r'not an Orbit database, tables \[.RAW_ANNOTATION'):
        read_orbit_db(str(path))


def test_not_sqlite(tmp_path):
    path = tmp_path / 'orbit.db'
    path.write_bytes(b'garbage' * 100)
    with pytest.raises(ValueError, match='not a readable SQLite database'):
        read_orbit_db(str(path))
