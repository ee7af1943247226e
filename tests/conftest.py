"""Shared fixtures: tiny synthetic data and helpers to run the CLIs."""
import hashlib
import os
import os.path as osp
import socket
import subprocess
import sys

import pytest

# Configs read this: no published weights are fetched in tests.
os.environ['CROSSSPEC_PRETRAINED'] = 'False'
# The suite means CPU (the gloo DDP wrapper, CPU timings): hide GPUs from it and from
# every process it starts, so a GPU host runs the same paths (set before CUDA starts).
os.environ['CUDA_VISIBLE_DEVICES'] = ''

from crossspec_mmseg.converters import convert_nuinsseg
from crossspec_mmseg.demo import write_nuinsseg_raw

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
TINY_CONFIG = osp.join(REPO, 'tests', 'configs', 'tiny_demo.py')
#: Real Orbit format samples: a Java-written orbit.db, its blobs and their decoded values.
ORBIT_FIXTURE = osp.join(REPO, 'tests', 'data', 'orbit')
ORBIT_BLOBS_DIR = osp.join(ORBIT_FIXTURE, 'blobs')


def tree_digest(root):
    """Hash of every file except the resume journal."""
    h = hashlib.sha256()
    for dirpath, dirs, files in sorted(os.walk(root)):
        dirs[:] = sorted(d for d in dirs if d != '.journal')
        for name in sorted(files):
            path = osp.join(dirpath, name)
            h.update(osp.relpath(path, root).encode() + open(path, 'rb').read())
    return h.hexdigest()


@pytest.fixture(scope='session')
def demo_data(tmp_path_factory):
    """The demo's path in small: a NuInsSeg-format download of 10 human and
    10 mouse 64 px kidney images, converted with the real converter."""
    raw = str(tmp_path_factory.mktemp('demo_raw'))
    write_nuinsseg_raw(raw, {'human kidney': 10, 'mouse kidney': 10}, size=64, seed=1)
    root = str(tmp_path_factory.mktemp('demo_data'))
    convert_nuinsseg(raw, root)
    return root


#: Organs of the multi-organ synthetic NuInsSeg download (regimes need liver too).
ORGANS = {'human kidney': 6, 'mouse kidney': 8, 'human liver': 5, 'mouse liver': 5,
          'mouse spleen': 4, 'human spleen': 3}


@pytest.fixture(scope='session')
def organs_data(tmp_path_factory):
    """Converted synthetic NuInsSeg with kidney, liver and spleen of both species."""
    raw = str(tmp_path_factory.mktemp('organs_raw'))
    write_nuinsseg_raw(raw, ORGANS, size=64, seed=4)
    root = str(tmp_path_factory.mktemp('organs'))
    convert_nuinsseg(raw, root)
    return root


@pytest.fixture(scope='session')
def zoo_data(tmp_path_factory, organs_data, demo_data):
    """A working directory whose data/ holds every dataset the configs name,
    converted from synthetic downloads (configs keep their default roots)."""
    import cv2
    import numpy as np

    from crossspec_mmseg.converters import convert_hubmap, convert_orbit
    from crossspec_mmseg.datasets import read_manifest, write_manifest
    from crossspec_mmseg.demo import write_hubmap_raw, write_orbit_raw
    root = tmp_path_factory.mktemp('zoo')
    data = root / 'data'
    (data / 'demo').mkdir(parents=True)
    os.symlink(organs_data, data / 'nuinsseg')
    os.symlink(demo_data, data / 'demo' / 'nuinsseg')
    raw = tmp_path_factory.mktemp('zoo_raw')
    write_hubmap_raw(str(raw / 'hubmap'), shape=(128, 160), slide_ids=[
        '1e2425f28', 'afa5e8098', 'b9a3865fc', 'cb2d976f4', '0486052bb'])
    convert_hubmap(str(raw / 'hubmap'), str(data / 'hubmap'), scale=0.5, tile=64, anatomy=True)
    groups = write_orbit_raw(str(raw / 'orbit'), ORBIT_BLOBS_DIR)
    convert_orbit(str(raw / 'orbit'), str(data / 'orbit'), groups=groups, tile=64)
    # Mouse kidney layers: HuBMAP anatomy tiles with medulla split in three bands.
    layers = data / 'mouse_kidney_layers'
    (layers / 'images').mkdir(parents=True)
    (layers / 'masks').mkdir()
    rows = []
    for i, row in enumerate(read_manifest(str(data / 'hubmap' / 'manifest.csv'))):
        mask = cv2.imread(str(data / 'hubmap' / row['masks_anatomy']), cv2.IMREAD_UNCHANGED)
        band = np.minimum(np.arange(mask.shape[1]) * 3 // mask.shape[1], 2)[None]
        mask = np.where(mask == 2, 2 + band, mask).astype(np.uint8)
        name = f'layers_{i}.png'
        os.symlink(data / 'hubmap' / row['image'], layers / 'images' / name)
        cv2.imwrite(str(layers / 'masks' / name), mask)
        rows.append(dict(row, image=f'images/{name}', mask=f'masks/{name}', dataset='layers',
                         species='mouse', split='train' if i % 3 else 'val'))
    write_manifest(str(layers / 'manifest.csv'), rows)
    return str(root)


def free_port():
    """A TCP port free right now (for torchrun's rendezvous)."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def run_tool(args, data_root, timeout=300, env=None, cwd=REPO, check=True):
    """Run a repo CLI with the venv's interpreter; fail with its output
    (``check=False``: return it whatever the exit code).

    ``env`` entries set to ``None`` are removed. Launchers get a fresh
    ``PORT``; if another process grabbed it between choosing and binding
    (EADDRINUSE), the launch is retried once.
    """
    full_env = dict(os.environ, CROSSSPEC_DATA=data_root, PYTHON=sys.executable,
                    OMP_NUM_THREADS='1')
    full_env.update(env or {})
    full_env = {k: v for k, v in full_env.items() if v is not None}
    if args[0].endswith('.sh'):
        cmd = [osp.join(REPO, args[0])] + args[1:]
    else:
        cmd = [sys.executable, osp.join(REPO, args[0])] + args[1:]
    for attempt in range(2):
        if cmd[0].endswith('.sh'):
            full_env['PORT'] = str(free_port())
        proc = subprocess.run(cmd, cwd=cwd, env=full_env, capture_output=True, text=True,
                              timeout=timeout)
        if proc.returncode == 0 or 'EADDRINUSE' not in proc.stdout + proc.stderr:
            break
    if check and proc.returncode != 0:
        pytest.fail(f'{" ".join(args)} failed ({proc.returncode}):\n'
                    f'{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}')
    return proc
