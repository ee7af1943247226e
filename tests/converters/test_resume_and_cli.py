"""Conversions refuse to resume with other tiling; the CLIs write the datasets."""
import os.path as osp

import pytest

from crossspec_mmseg.converters import convert_hubmap
from crossspec_mmseg.demo.raw_downloads import write_hubmap_raw, write_nuinsseg_raw, write_orbit_raw
from helpers import ORBIT_BLOBS_DIR, run_tool


@pytest.fixture(scope='module')
def hubmap_raw(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('hubmap_raw'))
    write_hubmap_raw(root, n_slides=3, shape=(200, 260), seed=2)
    return root


def test_changed_tiling_refuses_to_resume(hubmap_raw, tmp_path):
    out = str(tmp_path / 'out')
    convert_hubmap(hubmap_raw, out, tile=32)
    with pytest.raises(ValueError, match='use a new output folder'):
        convert_hubmap(hubmap_raw, out, tile=64)


def run_cli(*args):
    return run_tool(list(args), '', fresh=False).stdout


@pytest.mark.heavy
def test_clis_write_datasets(tmp_path):
    write_nuinsseg_raw(str(tmp_path / 'nu'), size=32)
    out = run_cli('tools/dataset_converters/nuinsseg.py', str(tmp_path / 'nu'),
                  str(tmp_path / 'nu_out'))
    assert 'human: 9 written' in out and 'mouse: 14 written' in out

    write_hubmap_raw(str(tmp_path / 'hb'), n_slides=1, shape=(120, 160))
    out = run_cli('tools/dataset_converters/hubmap.py', str(tmp_path / 'hb'),
                  str(tmp_path / 'hb_out'), '--scale', '0.5', '--tile', '32', '--anatomy')
    assert osp.isdir(tmp_path / 'hb_out' / 'masks_anatomy') and 'human:' in out

    groups = write_orbit_raw(str(tmp_path / 'ob'), ORBIT_BLOBS_DIR)
    out = run_cli('tools/dataset_converters/orbit.py', str(tmp_path / 'ob'),
                  str(tmp_path / 'ob_out'), '--slide-table', groups, '--tile', '64', '--keep-all')
    assert 'mouse: 63 written' in out and 'rat: 63 written' in out  # 7 x 9 windows
