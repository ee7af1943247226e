"""Shared fixtures: tiny synthetic data (session-scoped, converted once per run)."""
import os

import pytest

# Configs read this: no published weights are fetched in tests.
os.environ['CROSSSPEC_PRETRAINED'] = 'False'
# The suite means CPU (the gloo DDP wrapper, CPU timings): hide GPUs from it and from
# every process it starts, so a GPU host runs the same paths (set before CUDA starts).
os.environ['CUDA_VISIBLE_DEVICES'] = ''

from crossspec_mmseg.converters import convert_nuinsseg
from crossspec_mmseg.demo import write_nuinsseg_raw
from helpers import ORBIT_BLOBS_DIR


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
    """Converted synthetic NuInsSeg with kidney, liver and spleen of both species
    (with the contour target, for the contour config)."""
    raw = str(tmp_path_factory.mktemp('organs_raw'))
    write_nuinsseg_raw(raw, ORGANS, size=64, seed=4)
    root = str(tmp_path_factory.mktemp('organs'))
    convert_nuinsseg(raw, root, contour=2)
    return root


@pytest.fixture(scope='session')
def zoo_data(tmp_path_factory, organs_data, demo_data):
    """A working directory whose data/ holds every dataset the configs name,
    converted from synthetic downloads (configs keep their default roots)."""
    import cv2
    import numpy as np

    from crossspec_mmseg.converters import convert_hubmap, convert_orbit
    from crossspec_mmseg.demo import write_hubmap_raw, write_orbit_raw
    from crossspec_mmseg.structures import read_manifest, write_manifest
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
    convert_orbit(str(raw / 'orbit'), str(data / 'orbit'), slide_table=groups, tile=64)
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
