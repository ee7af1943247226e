"""Guarantee 3: every corrupt input gets a clear error naming the file/record and
the fix; converters with --skip-bad leave the item out and list it in
skipped.csv; datasets reject bad tiles when built, not halfway through an epoch.

The bad files are the committed corpus in corrupt_inputs/ (make_corpus.py).
"""
import csv
import os
import os.path as osp
import shutil
import sqlite3

import pytest

from crossspec_mmseg.converters import convert_hubmap, convert_nuinsseg, convert_orbit
from crossspec_mmseg.converters.errors import BadDownloadError, BadInputError
from crossspec_mmseg.datasets import NuInsSegDataset
from crossspec_mmseg.demo.raw_downloads import write_hubmap_raw, write_nuinsseg_raw, write_orbit_raw
from crossspec_mmseg.structures import read_manifest, write_manifest
from helpers import ORBIT_BLOBS_DIR

CORPUS = osp.join(osp.dirname(osp.abspath(__file__)), 'corrupt_inputs')
NU_IMAGE = 'human kidney/tissue images/human_kidney_1.png'
NU_MASK = 'human kidney/label masks modify/human_kidney_1.tif'


def corpus(name):
    return osp.join(CORPUS, name)


def put(root, relative, corpus_file):
    shutil.copyfile(corpus(corpus_file), osp.join(root, relative))
    return relative


def set_rle(root, image_id, encoding):
    path = osp.join(root, 'train.csv')
    rows = list(csv.reader(open(path)))
    csv.writer(open(path, 'w', newline='')).writerows(
        [[r[0], encoding] if r[0] == image_id else r for r in rows])


def set_blob(root, annotation_id, corpus_file):
    con = sqlite3.connect(osp.join(root, 'orbit.db'))
    con.execute('UPDATE RAW_ANNOTATION SET DATA = ? WHERE RAW_ANNOTATION_ID = ?',
                (open(corpus(corpus_file), 'rb').read(), annotation_id))
    con.commit()
    con.close()


HUBMAP_IDS = ['aaa000001', 'bbb000002', 'ccc000003']

# id: (converter, inject(root) -> the skipped item's name, expected message, skippable)
CONVERTER_CASES = {
    'nuinsseg truncated PNG': ('nuinsseg', lambda r: put(r, NU_IMAGE, 'truncated.png'),
                               'human_kidney_1.png: unreadable, empty or truncated', True),
    'nuinsseg zero-byte image': ('nuinsseg', lambda r: put(r, NU_IMAGE, 'empty'),
                                 'human_kidney_1.png: unreadable image', True),
    'nuinsseg zero-byte mask': ('nuinsseg', lambda r: put(r, NU_MASK, 'empty'),
                                'human_kidney_1.tif: unreadable, empty or truncated', True),
    'nuinsseg 16-bit image': ('nuinsseg', lambda r: put(r, NU_IMAGE, 'gray16.png'),
                              'human_kidney_1.png: expected an 8-bit image', True),
    'nuinsseg RGB mask': ('nuinsseg', lambda r: put(r, NU_MASK, 'rgb_mask.png'),
                          'human_kidney_1.tif: expected a single-channel mask', True),
    'nuinsseg mask size mismatch': ('nuinsseg', lambda r: put(r, NU_MASK, 'small_mask.png'),
                                    r'human_kidney_1.tif: mask size \(32, 48\) differs', True),
    'hubmap truncated TIFF': ('hubmap', lambda r: put(r, 'train/bbb000002.tiff',
                                                      'truncated.tiff'),
                              # the header's size disagrees with the info CSV: caught
                              # before a pixel is decoded (Orbit's case reads the pixels)
                              'bbb000002.tiff: slide is 256 x 256 px', True),
    'hubmap zero-byte TIFF': ('hubmap', lambda r: put(r, 'train/bbb000002.tiff', 'empty'),
                              'bbb000002.tiff: cannot read TIFF', True),
    'hubmap RLE odd tokens': ('hubmap', lambda r: set_rle(r, 'bbb000002', '1 2 3'),
                              'train.csv id bbb000002: odd number of tokens', True),
    'hubmap RLE non-integer': ('hubmap', lambda r: set_rle(r, 'bbb000002', '5 x'),
                               'train.csv id bbb000002: non-integer token', True),
    'hubmap RLE beyond image': ('hubmap', lambda r: set_rle(r, 'bbb000002', '99999999 5'),
                                'train.csv id bbb000002: run reaches pixel', True),
    'hubmap JSON without coordinates': (
        'hubmap', lambda r: put(r, 'train/bbb000002-anatomical-structure.json',
                                'no_coordinates.json'),
        'bbb000002-anatomical-structure.json: feature 0 has no geometry.coordinates', True),
    'hubmap JSON with NaN': (
        'hubmap', lambda r: put(r, 'train/bbb000002-anatomical-structure.json',
                                'nan_coordinates.json'),
        'bbb000002-anatomical-structure.json: feature 0: ring with .* NaN', True),
    'hubmap zero-byte JSON': (
        'hubmap', lambda r: put(r, 'train/bbb000002-anatomical-structure.json', 'empty'),
        'bbb000002-anatomical-structure.json: invalid JSON', True),
    'orbit db without tables': ('orbit', lambda r: put(r, 'orbit.db', 'not_orbit.db'),
                                r'orbit.db: not an Orbit database, tables \[.RAW_ANNOTATION',
                                False),
    'orbit zero-byte db': ('orbit', lambda r: put(r, 'orbit.db', 'empty'),
                           'orbit.db: not an Orbit database', False),
    'orbit blob of another Java class': ('orbit', lambda r: set_blob(r, 1, 'java_point.bin'),
                                         'RAW_ANNOTATION_ID 1: unknown shape class '
                                         'java.awt.Point', True),
    'orbit truncated TIFF': ('orbit', lambda r: put(r, 'test/4712.tiff', 'truncated.tiff'),
                             '4712.tiff: cannot read TIFF', True),
}


@pytest.fixture(scope='module')
def raw_downloads(tmp_path_factory):
    base = tmp_path_factory.mktemp('raw')
    write_nuinsseg_raw(str(base / 'nuinsseg'), {'human kidney': 3, 'mouse kidney': 3}, size=32)
    write_hubmap_raw(str(base / 'hubmap'), n_slides=3, shape=(96, 128), slide_ids=HUBMAP_IDS)
    write_orbit_raw(str(base / 'orbit'), ORBIT_BLOBS_DIR)  # with its groups.csv
    return base


def convert(kind, raw, out, **kwargs):
    if kind == 'nuinsseg':
        return convert_nuinsseg(raw, out, **kwargs)
    if kind == 'hubmap':
        return convert_hubmap(raw, out, tile=32, anatomy=True, min_tissue=0, **kwargs)
    return convert_orbit(raw, out, slide_table=osp.join(raw, 'groups.csv'), tile=32, min_tissue=0,
                         **kwargs)


@pytest.mark.parametrize('case', list(CONVERTER_CASES))
def test_converter_names_bad_input_and_skip_bad_lists_it(raw_downloads, tmp_path, case):
    kind, inject, message, skippable = CONVERTER_CASES[case]
    raw = str(tmp_path / 'raw')
    shutil.copytree(raw_downloads / kind, raw)
    inject(raw)
    out = str(tmp_path / 'out')
    with pytest.raises(BadInputError, match=message):
        convert(kind, raw, out)
    assert not osp.exists(osp.join(out, 'manifest.csv'))
    if not skippable:  # the whole download is unusable: --skip-bad cannot help
        with pytest.raises(BadInputError, match=message):
            convert(kind, raw, out, skip_bad=True)
        return
    summary = convert(kind, raw, out, skip_bad=True)
    (item, error), = summary.skipped_bad
    assert list(csv.reader(open(osp.join(out, 'skipped.csv')))) == [['item', 'error'],
                                                                      [item, error]]
    rows = read_manifest(osp.join(out, 'manifest.csv'))
    bad_stem = {'nuinsseg': 'human_kidney_1', 'hubmap': 'bbb000002', 'orbit': '4712'}[kind]
    if kind == 'orbit' and 'Java' in case:
        bad_stem = '4711'
    assert rows and not [r for r in rows if r['slide'] == bad_stem]
    assert sum(summary.written.values()) == len(rows)
    assert not [f for f in os.listdir(osp.join(out, 'images')) if f.startswith(bad_stem + '_')]


def test_duplicate_image_names_are_named(raw_downloads, tmp_path):
    raw = str(tmp_path / 'raw')
    shutil.copytree(raw_downloads / 'nuinsseg', raw)
    for sub in ('tissue images', 'label masks modify'):
        src = osp.join(raw, 'human kidney', sub)
        name = next(f for f in sorted(os.listdir(src)) if f.startswith('human_kidney_1.'))
        shutil.copyfile(osp.join(src, name), osp.join(raw, 'mouse kidney', sub, name))
    with pytest.raises(BadDownloadError, match=r"image human_kidney_1 is in the download twice "
                                               r"\(.*human kidney.* and .*mouse kidney.*keep one"):
        convert_nuinsseg(raw, str(tmp_path / 'out'), skip_bad=True)


@pytest.fixture(scope='module')
def tiles(raw_downloads, tmp_path_factory):
    out = str(tmp_path_factory.mktemp('tiles'))
    convert_nuinsseg(str(raw_downloads / 'nuinsseg'), out)
    return out


def _break_tile(root, column, corpus_file):
    row = read_manifest(osp.join(root, 'manifest.csv'))[1]
    shutil.copyfile(corpus(corpus_file), osp.join(root, row[column]))
    return row[column]


def _edit_manifest(root, edit):
    rows = read_manifest(osp.join(root, 'manifest.csv'))
    write_manifest(osp.join(root, 'manifest.csv'), edit(rows))
    return rows[1]['image']


# id: (break(root) -> the named file or path, expected message)
DATASET_CASES = {
    'truncated tile': (lambda r: _break_tile(r, 'image', 'truncated.png'),
                       'truncated or not an image'),
    'zero-byte tile': (lambda r: _break_tile(r, 'image', 'empty'), 'zero-byte file'),
    'zero-byte mask': (lambda r: _break_tile(r, 'mask', 'empty'), 'zero-byte file'),
    '16-bit tile': (lambda r: _break_tile(r, 'image', 'gray16.png'),
                    r'image is uint16 with shape \(64, 64\), expected 8-bit RGB'),
    'labels beyond num_classes': (lambda r: _break_tile(r, 'mask', 'labels_beyond.png'),
                                  'label 7 is beyond the 2 classes'),
    'mask size mismatch': (lambda r: _break_tile(r, 'mask', 'small_mask.png'),
                           r'mask size \(32, 48\) differs from image'),
    'path outside the root': (lambda r: _edit_manifest(r, lambda rows: [
        dict(rows[0], image='../../etc/passwd')] + rows[1:]) and '../../etc/passwd',
        'points outside the dataset root'),
    'duplicate tile rows': (lambda r: _edit_manifest(r, lambda rows: rows + rows[1:2]),
                            'is listed twice'),
}


@pytest.mark.parametrize('case', list(DATASET_CASES))
def test_dataset_rejects_bad_tiles_when_built(tiles, tmp_path, case):
    root = str(tmp_path / 'tiles')
    shutil.copytree(tiles, root)
    breaker, message = DATASET_CASES[case]
    named = breaker(root)
    with pytest.raises((ValueError, FileNotFoundError), match=message) as info:
        NuInsSegDataset(data_root=root, pipeline=[])
    assert osp.basename(named) in str(info.value) and 'manifest.csv:' in str(info.value)


def test_tile_checks_are_remembered_and_redone_when_a_file_changes(tiles, tmp_path,
                                                                   monkeypatch):
    from crossspec_mmseg.datasets import validation
    root = str(tmp_path / 'tiles')
    shutil.copytree(tiles, root)
    decoded = []
    real = validation._check_pair
    monkeypatch.setattr(validation, '_check_pair', lambda *a: decoded.append(a) or real(*a))
    n = len(NuInsSegDataset(data_root=root, pipeline=[]))
    assert len(decoded) == n and osp.isfile(osp.join(root, '.tile_checks.json'))
    NuInsSegDataset(data_root=root, pipeline=[])
    assert len(decoded) == n  # nothing decoded again
    _break_tile(root, 'mask', 'labels_beyond.png')
    with pytest.raises(ValueError, match='label 7'):
        NuInsSegDataset(data_root=root, pipeline=[])
    assert len(decoded) == n + 1  # only the changed tile
