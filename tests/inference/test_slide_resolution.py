"""Inference at a target um/px: the slide is read from the level that serves,
the mask keeps level-0 size and records its um/px; the CLI takes --mpp or the
config's train_mpp."""
import json

import numpy as np
import pytest
from stubs import BrightStub

from crossspec_mmseg.demo import write_pyramid
from crossspec_mmseg.inference import infer_slide
from crossspec_mmseg.slides import SlideReader, SlideResolutionError

MPP = 0.5


def discs(shape=(600, 760), seed=3):
    rng = np.random.default_rng(seed)
    image = np.full(shape + (3,), 50, np.uint8)
    yy, xx = np.ogrid[:shape[0], :shape[1]]
    for _ in range(20):
        y, x, r = rng.integers(0, shape[0]), rng.integers(0, shape[1]), rng.integers(20, 60)
        image[(yy - y) ** 2 + (xx - x) ** 2 < r * r] = 220
    return image


@pytest.fixture(scope='module')
def pyramid(tmp_path_factory):
    image = discs()
    folder = tmp_path_factory.mktemp('pyramid')
    path, bare = str(folder / 'slide.svs'), str(folder / 'bare.tif')
    write_pyramid(path, image, 'svs', MPP, compression='zlib')
    write_pyramid(str(folder / 'slide.ndpi'), image, 'ndpi', MPP, compression='zlib')
    write_pyramid(bare, image, 'generic', None, compression='zlib')
    return path, bare, image


@pytest.mark.parametrize('suffix', ['.svs', '.ndpi'])
@pytest.mark.parametrize('target, level', [(0.5, 0), (1.0, 1), (2.0, 2)])
def test_reads_the_level_that_serves_and_writes_level0_size(pyramid, tmp_path, target, level,
                                                            suffix):
    import tifffile
    svs, _, image = pyramid
    path = svs.replace('.svs', suffix)
    out = str(tmp_path / 'mask.tif')
    result = infer_slide(BrightStub(), path, out, tile=64, mpp=target)
    mask = tifffile.imread(out)
    assert result.level == level and mask.shape == image.shape[:2]
    truth = image[..., 0] > 127
    iou = (truth & (mask == 1)).sum() / (truth | (mask == 1)).sum()
    assert iou > 0.97
    with SlideReader(out) as written:
        assert written.mpp == pytest.approx(MPP)


def test_unknown_mpp_asks_for_base_mpp(pyramid, tmp_path):
    _, bare, _ = pyramid
    with pytest.raises(SlideResolutionError, match='--base-mpp'):
        infer_slide(BrightStub(), bare, str(tmp_path / 'mask.tif'), tile=64, mpp=1.0)
    result = infer_slide(BrightStub(), bare, str(tmp_path / 'mask.tif'), tile=64, mpp=1.0,
                         base_mpp=MPP)
    assert result.level == 1


@pytest.mark.heavy
def test_cli_reads_at_mpp_or_the_configs_train_mpp(pyramid, tmp_path, demo_data):
    from helpers import TINY_CONFIG, run_tool, write_tiny_checkpoint
    checkpoint = write_tiny_checkpoint(tmp_path / 'model.pth')
    config = tmp_path / 'trained_at_1um.py'
    config.write_text(f'_base_ = [{TINY_CONFIG!r}]\ntrain_mpp = 1.0\n')
    path, bare, image = pyramid

    def infer(config_path, slide, *flags, check=True):
        proc = run_tool(['tools/infer_slide.py', config_path, checkpoint, slide, '--out',
                         str(tmp_path / 'pred.tif'), '--tile', '64', *flags], demo_data,
                        check=check, fresh=False)
        return proc if not check else json.loads(proc.stdout.strip().splitlines()[-1])

    outputs = {'--geojson': 'objects.geojson', '--ome-tiff': 'mask.ome.tif',
               '--objects-csv': 'objects.csv'}
    flags = [arg for flag, name in outputs.items() for arg in (flag, str(tmp_path / name))]
    by_config = infer(str(config), path, *flags)
    assert (by_config['read_mpp'], by_config['level'], by_config['slide_mpp']) == (1.0, 1, MPP)
    assert by_config['shape'] == list(image.shape[:2])
    for flag, name in outputs.items():  # written where asked (their content: test_exports.py)
        assert by_config[flag[2:].replace('-', '_')] == str(tmp_path / name)
        assert (tmp_path / name).stat().st_size > 0
    assert infer(str(config), path, '--mpp', '2')['level'] == 2
    assert infer(str(config), bare, '--scale', '0.5')['level'] == 1  # --scale wins
    assert infer(str(config), bare)['read_mpp'] is None  # slide um/px unknown: --scale 1
    proc = infer(TINY_CONFIG, bare, '--mpp', '1', check=False)
    last = proc.stderr.strip().splitlines()[-1]
    assert proc.returncode == 1 and 'Traceback' not in proc.stderr
    assert last.startswith('error: ') and bare in last and '--base-mpp' in last
