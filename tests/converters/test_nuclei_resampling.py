"""The nuclei family's shared conversion: per-instance resampling (ids kept
1:1, never split or merged, vanished ones counted), quirk bookkeeping across
workers and resumes, and NuInsSeg's ``--mpp``."""
import os.path as osp
import re
from collections import Counter

import cv2
import numpy as np
import pytest
from skimage.measure import label as connected_components

from crossspec_mmseg.converters.errors import BadDownloadError
from crossspec_mmseg.converters.nuclei import (
    VANISHED,
    NucleiImage,
    NucleusLabels,
    convert_nuclei,
    resample_nuclei,
)
from crossspec_mmseg.demo.downloads.pannuke import draw_nuclei
from crossspec_mmseg.demo.raw_downloads import write_nuinsseg_raw
from crossspec_mmseg.structures import read_manifest
from helpers import run_tool, tree_digest


def blobs(seed, shape=(90, 110), count=30, radius=(1.5, 6), gap=7):
    """Round nuclei ``gap`` px apart (so none touch at a third of the size),
    ids above 255, types 1..5; some too small to survive shrinking."""
    rng = np.random.default_rng(seed)
    ids = draw_nuclei(rng, shape, count, radius=radius, gap=gap)
    ids = np.where(ids > 0, ids * 7 + 250, 0)
    table = np.zeros(ids.max() + 1, np.uint8)
    table[np.unique(ids)[1:]] = rng.integers(1, 6, len(np.unique(ids)) - 1)
    image = rng.integers(0, 256, shape + (3,), dtype=np.uint8)
    return NucleusLabels(image, ids, table[ids])


def assert_one_to_one(source, out):
    """Every output id is a source id with the source's type; read back with
    scikit-image, each id is one connected region and each connected region
    of the foreground one id (nothing split, nothing merged)."""
    source_ids = set(np.unique(source.instances)[1:].tolist())
    ids = np.unique(out.instances)[1:]
    assert set(ids.tolist()) <= source_ids
    for i in ids:
        mine = out.instances == i
        assert connected_components(mine, connectivity=2).max() == 1, f'id {i} split'
        assert set(np.unique(out.types[mine])) == set(np.unique(source.types[
            source.instances == i])), i
    regions = connected_components(out.instances > 0, connectivity=2)
    assert regions.max() == len(ids)
    for r in range(1, regions.max() + 1):
        assert len(np.unique(out.instances[regions == r])) == 1, 'instances merged'


@pytest.mark.parametrize('shape', [(45, 55), (30, 37), (180, 220), (135, 165)])
def test_resampling_keeps_every_instance_once(shape):
    source = blobs(0)
    out = resample_nuclei(source, shape)
    assert out.instances.shape == out.types.shape == shape and out.image.shape == shape + (3,)
    assert_one_to_one(source, out)
    kept = len(np.unique(out.instances)) - 1
    assert kept + out.quirks[VANISHED] == len(np.unique(source.instances)) - 1
    assert out.instances.max() > 255  # ids survive as they are
    if shape[0] > 90:
        assert out.quirks[VANISHED] == 0


def test_vanished_instance_is_counted_and_left_ignore():
    ids = np.zeros((40, 40), np.int64)
    ids[10:30, 10:30], ids[2, 2] = 300, 301  # a nucleus and a one-pixel one
    types = np.where(ids > 0, 2, 0).astype(np.uint8)
    out = resample_nuclei(NucleusLabels(np.zeros((40, 40, 3), np.uint8), ids, types), (10, 10))
    assert set(np.unique(out.instances)) == {0, 300} and out.quirks[VANISHED] == 1
    assert out.types[0, 0] == 255  # where the lost nucleus was
    assert (out.types[out.instances == 300] == 2).all() and out.types[9, 9] == 0


def test_exact_tie_goes_to_the_smaller_instance():
    ids = np.array([[5, 6, 6, 6],
                    [5, 6, 6, 6]])
    types = np.array([[1, 2, 2, 2], [1, 2, 2, 2]], np.uint8)
    out = resample_nuclei(NucleusLabels(np.zeros((2, 4, 3), np.uint8), ids, types), (1, 2))
    assert out.instances.tolist() == [[5, 6]] and out.types.tolist() == [[1, 2]]


def test_instance_with_ignore_pixels_keeps_them_nearest():
    ids = np.zeros((20, 20), np.int64)
    ids[:, :] = 9
    types = np.full((20, 20), 3, np.uint8)
    types[:, :10] = 255  # e.g. PanNuke pixels in two class channels
    out = resample_nuclei(NucleusLabels(np.zeros((20, 20, 3), np.uint8), ids, types), (10, 10))
    assert (out.types[:, :5] == 255).all() and (out.types[:, 5:] == 3).all()


def nuclei_image(name, labels, mpp=0.25, **fields):
    base = dict(dataset='toy', species='human', organ='colon', slide=name, case=name, split='',
                fold='', origin='toy', patient='')
    return NucleiImage(name, labels.instances.shape, mpp, dict(base, **fields), lambda: labels)


def test_quirks_survive_workers_and_resume(tmp_path):
    images = []
    for k in range(3):
        labels = blobs(k, shape=(60, 70))
        labels.quirks = Counter({'odd pixels': k + 1})
        images.append(nuclei_image(f'img{k}', labels))
    huge = blobs(9, shape=(40, 40))
    huge.instances = np.where(huge.instances > 0, huge.instances + 70000, 0)
    images.append(nuclei_image('huge', huge))
    one = convert_nuclei(images, str(tmp_path / 'one'), desc='toy', mpp=1.0, tile=16)
    two = convert_nuclei(images, str(tmp_path / 'two'), desc='toy', mpp=1.0, tile=16,
                         workers=2)
    assert one.quirks == two.quirks and one.quirks['odd pixels'] == 6
    assert one.quirks['images with instance ids above 65535 (relabelled 1..n)'] == 1
    assert one.quirks[VANISHED] > 0 and 'odd pixels: 6' in str(one)
    assert tree_digest(str(tmp_path / 'one')) == tree_digest(str(tmp_path / 'two'))
    again = convert_nuclei(images, str(tmp_path / 'one'), desc='toy', mpp=1.0, tile=16)
    assert again.quirks == one.quirks and again.resumed == sum(one.written.values())
    rows = read_manifest(str(tmp_path / 'one' / 'manifest.csv'))
    assert {r['mpp'] for r in rows} == {'1.0'} and {r['origin'] for r in rows} == {'toy'}
    with pytest.raises(BadDownloadError, match="images/ was written with {'mpp': 1.0}"):
        convert_nuclei(images, str(tmp_path / 'one'), desc='toy', mpp=0.5, tile=16)
    with pytest.raises(ValueError, match=r"img0: manifest fields \['patient'\] missing"):
        bad = nuclei_image('img0', blobs(0))
        del bad.fields['patient']
        convert_nuclei([bad], str(tmp_path / 'bad'), desc='toy')


def test_nuinsseg_mpp_through_the_cli(tmp_path):
    raw = tmp_path / 'raw'
    write_nuinsseg_raw(str(raw), {'human kidney': 3, 'mouse kidney': 2}, size=48, seed=2)
    out = tmp_path / 'out'
    proc = run_tool(['tools/dataset_converters/nuinsseg.py', str(raw), str(out), '--mpp', '0.5',
                     '--contour', '1'], '', fresh=False)
    rows = read_manifest(str(out / 'manifest.csv'))
    assert len(rows) == 5 and {r['mpp'] for r in rows} == {'0.5'}
    found = re.search(f'{VANISHED}: ' + r'(\d+)', proc.stdout)
    vanished = int(found.group(1)) if found else 0
    total = 0
    for row in rows:
        folder = f'{row["species"]} kidney'
        source = cv2.imread(osp.join(raw, folder, 'label masks modify', f'{row["slide"]}.tif'),
                            cv2.IMREAD_UNCHANGED)
        tile = cv2.imread(str(out / row['instance']), cv2.IMREAD_UNCHANGED)
        assert tile.shape == (24, 24) and tile.dtype == np.uint16
        assert set(np.unique(tile)) <= set(np.unique(source))
        total += len(np.unique(source)) - len(np.unique(tile))
        contour = cv2.imread(str(out / row['mask_contour']), cv2.IMREAD_UNCHANGED)
        valid = contour != 255
        assert ((contour > 0) == (tile > 0))[valid].all()
    assert total == vanished
