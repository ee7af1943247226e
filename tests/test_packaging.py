"""The built wheel: every module and runtime resource is in it, no test data is,
and the installed (non-editable) package converts and trains; nothing in the
package or the tests reaches outside the repository."""
import os
import os.path as osp
import re
import shutil
import subprocess
import sys
import zipfile

import pytest

from helpers import ORBIT_BLOBS_DIR, REPO, TINY_CONFIG


def tracked(*folders):
    out = subprocess.run(['git', 'ls-files', *folders], cwd=REPO, capture_output=True,
                         text=True)
    if out.returncode != 0:
        pytest.skip('not a git checkout')
    return out.stdout.split()


@pytest.fixture(scope='module')
def wheel(tmp_path_factory):
    """Built from a copy of the tracked files (no build/ left in the checkout)."""
    source, out = tmp_path_factory.mktemp('source'), tmp_path_factory.mktemp('wheel')
    for path in tracked():
        os.makedirs(osp.dirname(osp.join(source, path)), exist_ok=True)
        shutil.copy2(osp.join(REPO, path), osp.join(source, path))
    proc = subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps',
                           '--no-build-isolation', '-q', '-w', str(out), str(source)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (path,) = [osp.join(out, f) for f in os.listdir(out) if f.endswith('.whl')]
    return path


@pytest.mark.heavy
def test_wheel_holds_every_module_and_resource(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    package = [p for p in tracked('crossspec_mmseg') if '__pycache__' not in p]
    assert package and set(package) <= names, sorted(set(package) - names)
    assert any(n.endswith('resources/orbit_groups.csv') for n in names)
    assert not [n for n in names if n.endswith('.bin') or n.startswith('tests/')]
    assert any(re.search(r'dist-info/(licenses/)?LICENSE$', n) for n in names)


@pytest.mark.heavy
def test_installed_wheel_converts_and_trains(wheel, tmp_path):
    """Outside the repository, from the installed wheel: the Orbit converter needs
    the shipped slide table; a tiny config trains on the converted data."""
    site = tmp_path / 'site'
    proc = subprocess.run([sys.executable, '-m', 'pip', 'install', '--no-deps', '-q',
                           '--target', str(site), wheel], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    script = f'''
import os, sys
import crossspec_mmseg
assert crossspec_mmseg.__file__.startswith({str(site)!r}), crossspec_mmseg.__file__
from crossspec_mmseg.converters import convert_nuinsseg, convert_orbit
from crossspec_mmseg.converters.orbit import SLIDE_TABLE_CSV, read_slide_table
from crossspec_mmseg.demo import write_nuinsseg_raw, write_orbit_raw
assert len(read_slide_table(SLIDE_TABLE_CSV)) == 88
write_orbit_raw('orbit_raw', {ORBIT_BLOBS_DIR!r})
convert_orbit('orbit_raw', 'orbit', slide_table='orbit_raw/groups.csv', tile=64)
write_nuinsseg_raw('raw', {{'human kidney': 5, 'mouse kidney': 5}}, size=64)
convert_nuinsseg('raw', 'data')
'''
    env = dict(os.environ, PYTHONPATH=str(site), CROSSSPEC_DATA=str(tmp_path / 'data'),
               OMP_NUM_THREADS='1')
    proc = subprocess.run([sys.executable, '-c', script], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    proc = subprocess.run([sys.executable, osp.join(REPO, 'tools', 'train.py'), TINY_CONFIG,
                           '--work-dir', 'work', '--cfg-options', 'train_cfg.max_iters=1'],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert osp.isfile(tmp_path / 'work' / 'iter_1.pth')


def climbs_out(path, text):
    """Whether ``text`` (the file at repository-relative ``path``) names a path
    above the repository root: a ``'../../...'`` literal or an ``osp.join`` with
    more ``'..'`` parts than the file is deep (paths taken from the file's own
    folder, as mmengine resolves ``_base_`` and tests resolve fixtures)."""
    depth = path.count('/')
    literals = [m.count('../') for m in re.findall(r"""['"]((?:\.\./)+)""", text)]
    joins = [run.count("'..'") for run in re.findall(r"'\.\.'(?:\s*,\s*'\.\.')*", text)]
    return any(n > depth for n in literals + joins)


def test_nothing_reaches_outside_the_repository():
    """A user's clone has nothing beside it: no path in the package, tools or
    tests may climb out of the repository root."""
    offenders = [path for path in tracked('crossspec_mmseg', 'tools', 'tests', 'scripts',
                                          'benchmarks')
                 if path.endswith(('.py', '.sh')) and path != 'tests/test_packaging.py'
                 and climbs_out(path, open(osp.join(REPO, path)).read())]
    assert offenders == []
    # The check itself: the old fixture path of tests/converters/test_orbit_blob.py.
    assert climbs_out('tests/converters/test_orbit_blob.py',
                      "osp.join(osp.dirname(__file__), '..', '..', '..', 'fixtures')")
    assert not climbs_out('tests/converters/test_orbit_blob.py',
                          "osp.join(osp.dirname(__file__), '..', 'reliability')")
    assert climbs_out('tests/configs/tiny_demo.py', "_base_ = ['../../../configs/x.py']")
    assert not climbs_out('tests/configs/tiny_demo.py', "_base_ = ['../../configs/x.py']")
