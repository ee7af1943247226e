"""tools/fit_stain.py through its CLI: targets from files, folders and globs,
written atomically; one-line errors (exit 2) naming a bad tile."""
import json
import os

import cv2
import numpy as np
import pytest

from crossspec_mmseg.datasets import StainNormalize
from helpers import run_tool

pytestmark = pytest.mark.heavy


def write_tiles(folder, n=3, size=48):
    """H&E-like tiles: OD = C @ (H, E), RGB = 240 exp(-OD), saved as BGR PNGs."""
    stains = np.array([[0.65, 0.70, 0.29], [0.07, 0.99, 0.11]])
    stains /= np.linalg.norm(stains, axis=1, keepdims=True)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        conc = rng.gamma(2, 0.3, (size, size, 2))
        rgb = np.clip(np.round(240 * np.exp(-conc @ stains)), 0, 255).astype(np.uint8)
        cv2.imwrite(str(folder / f'tile_{i}.png'), rgb[..., ::-1])
    return stains


def test_fits_macenko_from_a_folder_and_a_file(tmp_path):
    stains = write_tiles(tmp_path / 'tiles')
    write_tiles(tmp_path / 'more', n=1)
    out = tmp_path / 'targets' / 'human.json'
    proc = run_tool(['tools/fit_stain.py', str(tmp_path / 'tiles'),
                     str(tmp_path / 'more' / 'tile_0.png'), '-o', str(out)], str(tmp_path),
                    fresh=False)
    assert 'from 4 tiles' in proc.stdout
    target = json.loads(out.read_text())
    assert target['method'] == 'macenko' and target['provenance']['n_tiles'] == 4
    assert (np.sum(np.array(target['stain_matrix']) * stains, axis=1) > 0.99).all()
    assert os.listdir(out.parent) == ['human.json']  # no temporary left beside it
    StainNormalize(str(out))


def test_fits_reinhard_from_a_glob(tmp_path):
    write_tiles(tmp_path / 'tiles')
    out = tmp_path / 'reinhard.json'
    run_tool(['tools/fit_stain.py', str(tmp_path / 'tiles' / '*.png'), '-o', str(out),
              '--method', 'reinhard'], str(tmp_path), fresh=False)
    target = json.loads(out.read_text())
    assert target['method'] == 'reinhard' and target['provenance']['n_tiles'] == 3
    StainNormalize(str(out), method='reinhard')


@pytest.mark.parametrize('bad', ['missing', 'unreadable'])
def test_a_bad_tile_is_named_and_the_old_target_kept(tmp_path, bad):
    write_tiles(tmp_path / 'tiles')
    tile = tmp_path / 'tiles' / 'broken.png'
    if bad == 'missing':
        tile = tmp_path / 'tiles' / 'absent.png'
    else:
        tile.write_bytes(b'not a png')
    out = tmp_path / 'target.json'
    out.write_text('{"old": true}')
    proc = run_tool(['tools/fit_stain.py', str(tmp_path / 'tiles' / 'tile_0.png'), str(tile),
                     '-o', str(out)], str(tmp_path), check=False, fresh=False)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert lines[-1].startswith('error: ') and str(tile) in lines[-1]
    assert 'Traceback' not in proc.stderr
    assert out.read_text() == '{"old": true}'
