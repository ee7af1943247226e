"""Converting at a target um/px: per-slide scale from each slide's metadata,
tiles from the level that serves, the manifest's mpp column, clear errors."""
import csv
import os
import os.path as osp

import cv2
import numpy as np
import pytest

from crossspec_mmseg.converters import convert_hubmap
from crossspec_mmseg.demo import write_pyramid
from crossspec_mmseg.demo.raw_downloads import write_hubmap_raw
from crossspec_mmseg.slides import SlideReader, WindowGrid


@pytest.fixture(scope='module')
def raw(tmp_path_factory):
    """Two HuBMAP slides rewritten as SVS pyramids scanned at 0.25 and 0.5 um/px."""
    root = str(tmp_path_factory.mktemp('hubmap_raw'))
    write_hubmap_raw(root, n_slides=2, shape=(400, 520), layouts=('YXS',), seed=5)
    ids = sorted(osp.splitext(n)[0] for n in os.listdir(osp.join(root, 'train'))
                 if not n.endswith('.json'))
    images = {}
    for image_id, mpp in zip(ids, (0.25, 0.5)):
        path = osp.join(root, 'train', f'{image_id}.tiff')
        with SlideReader(path) as reader:
            images[image_id] = (reader.read(0, 0, reader.width, reader.height), mpp)
        write_pyramid(path, images[image_id][0], 'svs', mpp, tile=128, compression='zlib')
    return root, images


def manifest_rows(out):
    with open(osp.join(out, 'manifest.csv'), newline='') as f:
        return list(csv.DictReader(f))


def test_tiles_at_target_mpp(raw, tmp_path):
    root, images = raw
    out = str(tmp_path / 'out')
    convert_hubmap(root, out, mpp=1.0, tile=64, overlap=0.0, min_tissue=0)
    rows = manifest_rows(out)
    for image_id, (image, mpp) in images.items():
        own = [r for r in rows if r['slide'] == image_id]
        grid = WindowGrid.from_mpp(64, 0.0, slide_mpp=mpp, target_mpp=1.0)
        assert own and {float(r['mpp']) for r in own} == {1.0}
        assert {float(r['scale']) for r in own} == {grid.scale}
        assert {(int(r['x']), int(r['y'])) for r in own} == set(grid.windows(image.shape[:2]))
        row = own[0]
        x, y, w = int(row['x']), int(row['y']), grid.window
        tile = cv2.imread(osp.join(out, row['image']))[..., ::-1].astype(np.float32)
        expected = cv2.resize(image[y:y + w, x:x + w], (64, 64), interpolation=cv2.INTER_AREA)
        assert np.abs(tile - expected).mean() < 2.0


def test_scale_alone_records_the_tiles_mpp(raw, tmp_path):
    root, images = raw
    out = str(tmp_path / 'out')
    convert_hubmap(root, out, scale=0.5, tile=64, min_tissue=0)
    mpps = {r['slide']: float(r['mpp']) for r in manifest_rows(out)}
    assert mpps == {image_id: mpp / 0.5 for image_id, (_, mpp) in images.items()}


def test_unknown_mpp_names_the_slide_and_base_mpp(tmp_path):
    root = str(tmp_path / 'raw')
    write_hubmap_raw(root, n_slides=1, shape=(200, 260), layouts=('YXS',), seed=1)
    with pytest.raises(ValueError, match='--base-mpp'):
        convert_hubmap(root, str(tmp_path / 'out'), mpp=1.0, tile=64)
    with pytest.raises(ValueError, match='nothing to convert'):  # --skip-bad lists it
        convert_hubmap(root, str(tmp_path / 'out'), mpp=1.0, tile=64, skip_bad=True)
    convert_hubmap(root, str(tmp_path / 'out2'), mpp=1.0, base_mpp=0.5, tile=64, min_tissue=0)
    assert {float(r['scale']) for r in manifest_rows(str(tmp_path / 'out2'))} == {0.5}


@pytest.mark.heavy
def test_cli_mpp_and_base_mpp(raw, tmp_path):
    from helpers import run_tool
    root, _ = raw
    out = str(tmp_path / 'out')
    run_tool(['tools/dataset_converters/hubmap.py', root, out, '--mpp', '1.0', '--tile', '64'],
             str(tmp_path), fresh=False)
    assert {float(r['mpp']) for r in manifest_rows(out)} == {1.0}
    bare = str(tmp_path / 'bare')
    write_hubmap_raw(bare, n_slides=1, shape=(200, 260), layouts=('YXS',), seed=1)
    proc = run_tool(['tools/dataset_converters/hubmap.py', bare, str(tmp_path / 'o2'), '--mpp',
                     '1.0'], str(tmp_path), check=False, fresh=False)
    assert proc.returncode == 1 and '--base-mpp' in proc.stderr
    run_tool(['tools/dataset_converters/hubmap.py', bare, str(tmp_path / 'o3'), '--mpp', '1.0',
              '--base-mpp', '0.5', '--tile', '64'], str(tmp_path), fresh=False)
