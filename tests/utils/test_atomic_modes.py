"""Files written atomically get the mode a plain open() would give them (0666 less
the umask), not mkstemp's private 0600, and a replaced file keeps its mode."""
import os
import os.path as osp
import stat
import subprocess
import sys

import pytest

from crossspec_mmseg.demo.raw_downloads import write_nuinsseg_raw
from crossspec_mmseg.engine import AtomicLocalBackend
from crossspec_mmseg.utils import atomic_path
from helpers import REPO


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture(params=[0o022, 0o027])
def umask(request):
    previous = os.umask(request.param)
    yield request.param
    os.umask(previous)


def test_new_file_gets_open_mode(tmp_path, umask):
    plain, atomic = tmp_path / 'plain.txt', tmp_path / 'atomic.txt'
    plain.write_text('x')
    with atomic_path(str(atomic)) as tmp, open(tmp, 'w') as f:
        f.write('x')
    assert mode(atomic) == mode(plain) == 0o666 & ~umask


def test_replaced_file_keeps_its_mode(tmp_path, umask):
    path = tmp_path / 'shared.json'
    path.write_text('old')
    os.chmod(path, 0o664)
    with atomic_path(str(path)) as tmp, open(tmp, 'w') as f:
        f.write('new')
    assert path.read_text() == 'new' and mode(path) == 0o664


def test_checkpoint_backend_mode(tmp_path, umask):
    path = tmp_path / 'iter_1.pth'
    AtomicLocalBackend().put(b'weights', path)
    assert mode(path) == 0o666 & ~umask


@pytest.mark.heavy
@pytest.mark.parametrize('mask', [0o022, 0o077])
def test_converted_dataset_under_a_umask(tmp_path, mask):
    """Through the CLI: tiles, masks and manifest as readable as the umask allows."""
    raw = tmp_path / 'raw'
    write_nuinsseg_raw(str(raw), {'human kidney': 3, 'mouse kidney': 3}, size=32)
    out = tmp_path / 'out'
    proc = subprocess.run([sys.executable, 'tools/dataset_converters/nuinsseg.py', str(raw),
                           str(out)], cwd=REPO, capture_output=True, text=True, timeout=120,
                          preexec_fn=lambda: os.umask(mask))
    assert proc.returncode == 0, proc.stderr
    files = [osp.join(d, f) for d, _, fs in os.walk(out) for f in fs]
    assert len(files) > 12
    assert {mode(f) for f in files} == {0o666 & ~mask}, files
