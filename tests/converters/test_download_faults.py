"""Faults of a whole download or of its metadata, through the converter CLIs:
each ends in one line naming the file or record and the fix (exit 1, no
traceback), and metadata that disagrees with the pixels or names a record
twice is never converted silently."""
import csv
import os
import shutil
import sqlite3

import pytest
import tifffile

from crossspec_mmseg.converters import convert_hubmap, convert_nuinsseg, convert_orbit
from crossspec_mmseg.converters.errors import BadDownloadError, BadInputError
from crossspec_mmseg.demo.raw_downloads import write_hubmap_raw, write_nuinsseg_raw, write_orbit_raw
from crossspec_mmseg.structures import read_manifest
from helpers import ORBIT_BLOBS_DIR, run_tool

INFO = 'HuBMAP-20-dataset_information.csv'


def converter(name, *args):
    """Run a converter CLI; ``(exit code, stdout, stderr)``."""
    proc = run_tool([f'tools/dataset_converters/{name}.py', *map(str, args)], '', check=False,
                    fresh=False)
    return proc.returncode, proc.stdout, proc.stderr


def assert_one_line_error(result, where, *needles):
    """Exit 1, no traceback, an ``error:`` line naming ``where``; the fix may
    follow on a second line (per-item faults add the --skip-bad hint)."""
    code, _, stderr = result
    assert code == 1, stderr
    assert 'Traceback' not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert lines[0].startswith('error: ') and where in lines[0], stderr
    assert len(lines) <= 2, stderr
    for needle in needles:
        assert needle in stderr, (needle, stderr)


@pytest.fixture(scope='module')
def hubmap(tmp_path_factory):
    root = tmp_path_factory.mktemp('hubmap')
    ids = write_hubmap_raw(str(root), n_slides=2, shape=(96, 128), seed=3)
    return root, ids


def copy(src, tmp_path, name='raw'):
    dst = tmp_path / name
    shutil.copytree(src, dst)
    return dst


def rewrite_csv(path, edit, delimiter=','):
    with open(path, newline='') as f:
        rows = list(csv.reader(f))
    rows = edit(rows)
    with open(path, 'w', newline='') as f:
        csv.writer(f, delimiter=delimiter).writerows(rows)


# -- raw folders that do not exist or are not the download ----------------------------------

@pytest.mark.heavy
@pytest.mark.parametrize('name', ['nuinsseg', 'hubmap', 'orbit'])
def test_missing_raw_dir_is_one_line(name, tmp_path):
    missing = tmp_path / 'no_such_download'
    assert_one_line_error(converter(name, missing, tmp_path / 'out'), str(missing),
                          'does not exist')
    assert not (tmp_path / 'out').exists()


@pytest.mark.heavy
def test_orbit_without_its_database(tmp_path):
    raw = tmp_path / 'orbit'
    groups = write_orbit_raw(str(raw), ORBIT_BLOBS_DIR, shape=(64, 64))
    os.remove(raw / 'orbit.db')
    assert_one_line_error(converter('orbit', raw, tmp_path / 'out', '--groups', groups),
                          str(raw / 'orbit.db'), '--db')


@pytest.mark.heavy
def test_bad_tiling_option_is_a_usage_error(hubmap, tmp_path):
    code, _, stderr = converter('hubmap', hubmap[0], tmp_path / 'out', '--overlap', '1.5')
    assert code == 2 and 'Traceback' not in stderr and '--overlap' in stderr


# -- CSV tables ---------------------------------------------------------------------------

def test_semicolon_csvs_are_read(hubmap, tmp_path):
    """Spreadsheets in European locales save with ';': same tiles as the original."""
    raw = copy(hubmap[0], tmp_path)
    for name in ('train.csv', INFO):
        rewrite_csv(raw / name, lambda rows: rows, delimiter=';')
    reference = convert_hubmap(str(hubmap[0]), str(tmp_path / 'ref'), tile=32)
    summary = convert_hubmap(str(raw), str(tmp_path / 'out'), tile=32)
    assert summary.written == reference.written
    rows = read_manifest(str(tmp_path / 'out' / 'manifest.csv'))
    assert {r['case'] for r in rows} == {'patient67000'}  # the info CSV was read


@pytest.mark.heavy
def test_csv_without_its_columns_names_file_and_columns(hubmap, tmp_path):
    raw = copy(hubmap[0], tmp_path)
    rewrite_csv(raw / 'train.csv', lambda rows: [['image', 'rle']] + rows[1:])
    assert_one_line_error(converter('hubmap', raw, tmp_path / 'out'),
                          str(raw / 'train.csv'), "['id', 'encoding']")


# -- HuBMAP metadata against pixels, records given twice ------------------------------------

def test_transposed_slide_is_refused_not_mislabelled(hubmap, tmp_path):
    raw = copy(hubmap[0], tmp_path)
    slide = raw / 'train' / f'{hubmap[1][0]}.tiff'
    image = tifffile.imread(slide)
    image = image.reshape(-1, *image.shape[-3:]) if image.ndim > 3 else image
    if image.shape[0] == 3:  # channels first in this layout
        image = image.transpose(1, 2, 0)
    tifffile.imwrite(slide, image.transpose(1, 0, 2).copy(), photometric='rgb')
    with pytest.raises(BadInputError, match=r'is 96 x 128 px .* says 128 x 96 \(transposed\?\)'):
        convert_hubmap(str(raw), str(tmp_path / 'out'), tile=32)
    summary = convert_hubmap(str(raw), str(tmp_path / 'skip'), tile=32, skip_bad=True)
    assert [item for item, _ in summary.skipped_bad] == [f'train.csv id {hubmap[1][0]}']
    assert {r['slide'] for r in read_manifest(summary.manifest)} == {hubmap[1][1]}


def test_info_size_that_is_not_a_number(hubmap, tmp_path):
    raw = copy(hubmap[0], tmp_path)
    rewrite_csv(raw / INFO, lambda rows: [rows[0], [rows[1][0], 'wide'] + rows[1][2:]] + rows[2:])
    with pytest.raises(BadInputError, match=f'{INFO} line 2: .* not numbers'):
        convert_hubmap(str(raw), str(tmp_path / 'out'), tile=32)


@pytest.mark.heavy
@pytest.mark.parametrize('table, line', [('train.csv', 'id'), (INFO, 'image_file')])
def test_record_listed_twice_names_both_lines(hubmap, tmp_path, table, line):
    raw = copy(hubmap[0], tmp_path)
    rewrite_csv(raw / table, lambda rows: rows + [rows[1]])
    assert_one_line_error(converter('hubmap', raw, tmp_path / 'out'), str(raw / table),
                          f'{line} ', 'twice (lines 2 and 4)')
    assert not (tmp_path / 'out' / 'manifest.csv').exists()


# -- NuInsSeg folders ---------------------------------------------------------------------

@pytest.fixture(scope='module')
def nuinsseg(tmp_path_factory):
    root = tmp_path_factory.mktemp('nuinsseg')
    write_nuinsseg_raw(str(root), {'human kidney': 5, 'mouse kidney': 5}, size=32)
    return root


@pytest.mark.heavy
def test_badly_named_folder_stops_or_is_skipped(nuinsseg, tmp_path):
    raw = copy(nuinsseg, tmp_path)
    shutil.copytree(raw / 'human kidney', raw / 'kidney_extra')
    for name in os.listdir(raw / 'kidney_extra' / 'tissue images'):  # unique stems
        os.rename(raw / 'kidney_extra' / 'tissue images' / name,
                  raw / 'kidney_extra' / 'tissue images' / f'extra_{name}')
    assert_one_line_error(converter('nuinsseg', raw, tmp_path / 'out'),
                          str(raw / 'kidney_extra'), '"<species> <organ>"', '--skip-bad')
    reference = convert_nuinsseg(str(nuinsseg), str(tmp_path / 'ref'))
    code, out, err = converter('nuinsseg', raw, tmp_path / 'skip', '--skip-bad')
    assert code == 0, err
    with open(tmp_path / 'skip' / 'skipped.csv') as f:
        assert 'kidney_extra' in f.read()
    # The official folds of the real folders are kept.
    folds = lambda root: {r['slide']: r['fold'] for r in read_manifest(  # noqa: E731
        str(root / 'manifest.csv'))}
    assert folds(tmp_path / 'skip') == folds(tmp_path / 'ref') and reference.sources == 10


# -- Orbit records ------------------------------------------------------------------------

@pytest.fixture(scope='module')
def orbit(tmp_path_factory):
    root = tmp_path_factory.mktemp('orbit')
    groups = write_orbit_raw(str(root), ORBIT_BLOBS_DIR, shape=(240, 320))
    return root, groups


@pytest.mark.heavy
def test_groups_table_with_a_slide_twice(orbit, tmp_path):
    raw, groups = orbit
    table = tmp_path / 'groups.csv'
    with open(groups) as f:
        text = f.read()
    table.write_text(text + '4711,PAS,rat,PAS_Rat\n')
    assert_one_line_error(converter('orbit', raw, tmp_path / 'out', '--slide-table', table),
                          str(table), "'4711' is listed twice (lines 2 and 4)")


def test_slide_in_train_and_test(orbit, tmp_path):
    raw = copy(orbit[0], tmp_path)
    shutil.copy(raw / 'train' / '4711.tiff', raw / 'test' / '4711.tiff')
    with pytest.raises(BadDownloadError, match='slide 4711 is in the download twice'):
        convert_orbit(str(raw), str(tmp_path / 'out'), slide_table=orbit[1], tile=64)


def test_two_database_records_for_one_slide(orbit, tmp_path):
    """A second RAW_DATA_FILE row whose FILENAME is an annotated slide: its
    annotations would be merged into that slide without a word."""
    raw = copy(orbit[0], tmp_path)
    con = sqlite3.connect(raw / 'orbit.db')
    con.execute("INSERT INTO RAW_DATA_FILE (RAW_DATA_FILE_ID, FILENAME) VALUES (9, '4712.tiff')")
    con.execute('INSERT INTO RAW_ANNOTATION SELECT 99, 9, 0, DESCRIPTION, DATA, USER_ID, '
                'MODIFY_DATE FROM RAW_ANNOTATION WHERE RAW_ANNOTATION_ID = 7')
    con.commit()
    con.close()
    with pytest.raises(BadInputError, match=r"slide 4712 is claimed by RAW_DATA_FILE_IDs "
                                            r"\['4712', '9'\]"):
        convert_orbit(str(raw), str(tmp_path / 'out'), slide_table=orbit[1], tile=64)
    summary = convert_orbit(str(raw), str(tmp_path / 'skip'), slide_table=orbit[1], tile=64,
                            skip_bad=True)
    assert [item for item, _ in summary.skipped_bad] == [str(raw / 'test' / '4712.tiff')]


def test_annotations_outside_the_slide(orbit, tmp_path):
    """A slide smaller than its annotations (another slide's record, or a wrong scale)."""
    raw = copy(orbit[0], tmp_path)
    small = tifffile.imread(raw / 'test' / '4712.tiff')[:2, :2]
    tifffile.imwrite(raw / 'test' / '4712.tiff', small, photometric='rgb')
    with pytest.raises(BadInputError, match=r'4712.tiff: an annotation .* lies outside the 2 x 2'):
        convert_orbit(str(raw), str(tmp_path / 'out'), slide_table=orbit[1], tile=64)
