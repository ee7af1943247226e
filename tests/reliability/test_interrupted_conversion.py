"""Guarantee 1: a converter killed with SIGKILL at random points, several times,
completes on rerun with a manifest and tiles byte-identical to an uninterrupted
run, and no temporary file left; the CLIs report bad inputs and --skip-bad."""
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from crossspec_mmseg.demo.raw_downloads import write_hubmap_raw, write_nuinsseg_raw
from helpers import REPO, tree_digest

CLI = osp.join(REPO, 'tools', 'dataset_converters', 'hubmap.py')
ARGS = ['--scale', '0.5', '--tile', '32', '--overlap', '0.5', '--anatomy', '--keep-all']
KILL_POINTS = 5  #: SIGKILLs per run, at random numbers of tiles written


def count_tiles(out):
    try:
        return len(os.listdir(osp.join(out, 'images')))
    except FileNotFoundError:
        return 0


def kill_when(proc, out, tiles):
    """SIGKILL the converter once ``tiles`` images exist (or when it ends)."""
    while proc.poll() is None and count_tiles(out) < tiles:
        time.sleep(0.002)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait()
    return proc.returncode


@pytest.mark.heavy
def test_sigkill_at_random_points_then_rerun_is_byte_identical(tmp_path):
    raw = str(tmp_path / 'raw')
    write_hubmap_raw(raw, n_slides=4, shape=(400, 520), seed=3)
    reference = str(tmp_path / 'reference')
    subprocess.run([sys.executable, CLI, raw, reference, *ARGS], check=True, cwd=REPO,
                   capture_output=True)
    total = count_tiles(reference)
    out = str(tmp_path / 'out')
    points = np.sort(np.random.default_rng(7).choice(np.arange(1, total), KILL_POINTS,
                                                     replace=False))
    killed = 0
    for tiles in points:
        proc = subprocess.Popen([sys.executable, CLI, raw, out, *ARGS], cwd=REPO,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        killed += kill_when(proc, out, tiles) == -signal.SIGKILL
        assert not osp.exists(osp.join(out, 'manifest.csv')) or count_tiles(out) == total
    assert killed >= KILL_POINTS - 1  # (the last may finish before its point)
    subprocess.run([sys.executable, CLI, raw, out, *ARGS], check=True, cwd=REPO,
                   capture_output=True)
    assert tree_digest(out) == tree_digest(reference)
    leftovers = [f for _, _, fs in os.walk(out) for f in fs if '.tmp' in f]
    assert leftovers == []


@pytest.mark.heavy
def test_cli_reports_bad_input_then_skip_bad(tmp_path):
    raw = str(tmp_path / 'raw')
    write_nuinsseg_raw(raw, {'human kidney': 3, 'mouse kidney': 3}, size=32)
    bad = osp.join(raw, 'mouse kidney', 'tissue images', 'mouse_kidney_2.png')
    open(bad, 'wb').close()
    cli = [sys.executable, osp.join(REPO, 'tools', 'dataset_converters', 'nuinsseg.py'), raw,
           str(tmp_path / 'out')]
    proc = subprocess.run(cli, cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 1 and 'Traceback' not in proc.stderr
    assert f'error: {bad}: unreadable image' in proc.stderr and '--skip-bad' in proc.stderr
    proc = subprocess.run(cli + ['--skip-bad'], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert '1 bad inputs skipped' in proc.stdout and 'skipped.csv' in proc.stdout
