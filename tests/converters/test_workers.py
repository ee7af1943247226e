"""--workers N: slides converted in forked processes give the same bytes (tiles,
journal, manifest, skipped.csv) as one process, and resume the same way."""
import os
import os.path as osp
import shutil

import pytest

from crossspec_mmseg.converters import convert_hubmap, convert_nuinsseg, convert_orbit
from crossspec_mmseg.demo.raw_downloads import write_hubmap_raw, write_nuinsseg_raw, write_orbit_raw
from helpers import ORBIT_BLOBS_DIR, run_tool


def tree(root):
    """Every file under ``root`` (journal included) -> its bytes."""
    files = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            path = osp.join(dirpath, name)
            files[osp.relpath(path, root)] = open(path, 'rb').read()
    return files


@pytest.fixture(scope='module')
def hubmap_raw(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('hubmap_raw'))
    ids = write_hubmap_raw(root, n_slides=4, shape=(160, 200), seed=7)
    return root, ids


@pytest.mark.parametrize('name', ['hubmap', 'orbit', 'nuinsseg'])
def test_workers_write_the_same_bytes(hubmap_raw, tmp_path, name):
    if name == 'hubmap':
        def convert(out, workers):
            return convert_hubmap(hubmap_raw[0], out, scale=0.5, tile=32, anatomy=True,
                                  workers=workers)
    elif name == 'orbit':
        raw = str(tmp_path / 'raw')
        groups = write_orbit_raw(raw, ORBIT_BLOBS_DIR, shape=(240, 320))

        def convert(out, workers):
            return convert_orbit(raw, out, slide_table=groups, tile=64, workers=workers)
    else:
        raw = str(tmp_path / 'raw')
        write_nuinsseg_raw(raw, size=32, seed=3)

        def convert(out, workers):
            return convert_nuinsseg(raw, out, contour=1, workers=workers)
    one = convert(str(tmp_path / 'one'), 1)
    two = convert(str(tmp_path / 'two'), 2)
    assert str(one).replace('one', 'two') == str(two) and sum(one.written.values()) > 0
    assert tree(str(tmp_path / 'one')) == tree(str(tmp_path / 'two'))


def test_workers_skip_bad_and_resume(hubmap_raw, tmp_path):
    """A bad slide: without --skip-bad the run stops (tiles of the others kept,
    resumed by the rerun); with it, the same skipped.csv and tiles as one process."""
    root, ids = hubmap_raw
    raw = str(tmp_path / 'raw')
    shutil.copytree(root, raw)
    slide = osp.join(raw, 'train', f'{ids[1]}.tiff')
    good = open(slide, 'rb').read()
    open(slide, 'r+b').truncate(3000)  # header readable, tiles not
    out = str(tmp_path / 'two')
    with pytest.raises(ValueError, match=f'{ids[1]}.tiff: cannot read TIFF'):
        convert_hubmap(raw, out, tile=32, workers=2)
    assert not osp.exists(osp.join(out, 'manifest.csv'))
    assert osp.isfile(osp.join(out, '.journal', f'{ids[0]}.csv'))
    skipped = convert_hubmap(raw, out, tile=32, workers=2, skip_bad=True)
    assert skipped.resumed > 0 and [item for item, _ in skipped.skipped_bad] == [ids[1]]
    one = str(tmp_path / 'one')
    convert_hubmap(raw, one, tile=32, workers=1, skip_bad=True)
    assert tree(one) == tree(out)
    open(slide, 'wb').write(good)  # fixed: the rerun adds it, as one process would
    for path in sorted(os.listdir(osp.join(out, 'images')))[::2]:  # as if killed mid-slide
        if path.startswith(ids[2]):
            os.remove(osp.join(out, 'images', path))
    os.remove(osp.join(out, '.journal', f'{ids[2]}.csv'))
    convert_hubmap(raw, out, tile=32, workers=2)
    fresh = str(tmp_path / 'fresh')
    convert_hubmap(raw, fresh, tile=32)
    assert tree(out) == tree(fresh)


@pytest.mark.heavy
def test_cli_workers(hubmap_raw, tmp_path):
    outputs = []
    for workers in ('1', '2'):
        out = str(tmp_path / f'out{workers}')
        run_tool(['tools/dataset_converters/hubmap.py', hubmap_raw[0], out, '--tile', '32',
                  '--workers', workers], '', fresh=False)
        outputs.append(tree(out))
    assert outputs[0] == outputs[1]
    proc = run_tool(['tools/dataset_converters/hubmap.py', hubmap_raw[0], str(tmp_path / 'x'),
                     '--workers', '0'], '', check=False, fresh=False)
    assert proc.returncode == 2 and 'out of range' in proc.stderr
