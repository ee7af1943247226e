"""Slide levels and um/px from each format's metadata; windows at a target um/px
come from the coarsest level that serves and match level 0 resized."""
import cv2
import numpy as np
import pytest
import tifffile

from crossspec_mmseg.demo import PYRAMID_LAYOUTS, write_pyramid
from crossspec_mmseg.demo.pyramids import default_compression
from crossspec_mmseg.slides import SlideReader, SlideResolutionError

MPP = 0.25
SHAPE = (700, 900)  # not a multiple of the tile or the downsamples


def smooth_image(shape=SHAPE, seed=0):
    """Stain-like blobs on a gradient: smooth, so JPEG and resizing errors stay small."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    image = np.stack([180 + 40 * np.sin(xx / 90), 150 + 50 * np.cos(yy / 70),
                      200 - 30 * np.sin((xx + yy) / 120)], -1)
    for _ in range(30):
        y, x, r = rng.integers(0, shape[0]), rng.integers(0, shape[1]), rng.integers(15, 60)
        disc = np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * r * r))[..., None]
        image = image * (1 - 0.6 * disc) + 0.6 * disc * np.array([120, 40, 140])
    return np.clip(image, 0, 255).astype(np.uint8)


@pytest.fixture(scope='module')
def image():
    return smooth_image()


def slide_name(stem, layout):
    """NDPI is known by its extension (64-bit offsets); the others by content."""
    return f'{stem}.{layout}.' + ('ndpi' if layout == 'ndpi' else 'tif')


@pytest.fixture(scope='module', params=PYRAMID_LAYOUTS)
def pyramid(request, image, tmp_path_factory):
    path = str(tmp_path_factory.mktemp('pyramid') / slide_name('slide', request.param))
    write_pyramid(path, image, request.param, MPP)
    return path


def test_levels_and_mpp_from_metadata(pyramid):
    with SlideReader(pyramid) as reader:
        assert reader.shape == SHAPE and reader.mpp == pytest.approx(MPP)
        assert [round(level.downsample) for level in reader.levels] == [1, 2, 4]
        assert [(level.height, level.width) for level in reader.levels] == [
            (700, 900), (350, 450), (175, 225)]


def test_level_choice_is_the_coarsest_at_least_as_fine(pyramid):
    with SlideReader(pyramid) as reader:
        assert [reader.level_for(reader.downsample_for(mpp))
                for mpp in (0.25, 0.4, 0.5, 0.7, 1.0, 3.0)] == [0, 0, 1, 1, 2, 2]


@pytest.mark.parametrize('target', [0.5, 0.75, 1.0, 1.6])
def test_window_at_target_mpp_matches_level0_resized(pyramid, image, target):
    """Pixels from the coarser level equal level 0 area-resized to the target,
    within the error of compression and of resizing in two steps."""
    lossy = default_compression() == 'jpeg'
    x, y, w, h = 130, 90, 600, 500
    with SlideReader(pyramid) as reader:
        downsample = reader.downsample_for(target)
        window = reader.read_resized(x, y, w, h, downsample).astype(np.float32)
    size = (round(w / downsample), round(h / downsample))
    expected = cv2.resize(image[y:y + h, x:x + w], size, interpolation=cv2.INTER_AREA)
    assert window.shape == expected.shape
    error = np.abs(window - expected).mean()
    assert error < (4.0 if lossy else 1.5)


def test_border_windows_are_clipped(pyramid):
    with SlideReader(pyramid) as reader:
        assert reader.read_resized(800, 600, 256, 256, 2.0).shape == (50, 50, 3)
        assert reader.read(800, 600, 256, 256, level=2).shape == (25, 25, 3)


def test_level0_is_not_decoded_when_a_coarser_level_serves(pyramid):
    class Untouchable:
        shape = None

        def __getitem__(self, index):
            raise AssertionError('level 0 decoded')

    with SlideReader(pyramid) as reader:
        reader._planes[0] = [Untouchable()]
        assert reader.read_resized(0, 0, 400, 400, 4.0).shape == (100, 100, 3)


def test_tiff_resolution_units(tmp_path, image):
    for unit, per_um in (('INCH', 25400), ('CENTIMETER', 1e4)):
        path = str(tmp_path / f'{unit}.tif')
        tifffile.imwrite(path, image, tile=(256, 256), photometric='rgb',
                         resolution=(per_um / 0.5, per_um / 0.5), resolutionunit=unit)
        with SlideReader(path) as reader:
            assert reader.mpp == pytest.approx(0.5) and len(reader.levels) == 1


def test_ome_length_units(tmp_path, image):
    path = str(tmp_path / 'nm.ome.tif')
    tifffile.imwrite(path, image, photometric='rgb', metadata=dict(
        axes='YXS', PhysicalSizeX=500, PhysicalSizeXUnit='nm'))
    with SlideReader(path) as reader:
        assert reader.mpp == pytest.approx(0.5)


@pytest.mark.parametrize('layout', PYRAMID_LAYOUTS)
def test_missing_mpp_asks_for_base_mpp(tmp_path, image, layout):
    path = str(tmp_path / slide_name('nompp', layout))
    write_pyramid(path, image, layout, None)
    with SlideReader(path) as reader:
        assert reader.mpp is None
        with pytest.raises(SlideResolutionError, match='--base-mpp') as err:
            reader.downsample_for(1.0)
        assert path in str(err.value)
    with SlideReader(path, base_mpp=0.5) as reader:
        assert reader.downsample_for(1.0) == 2.0


def test_implausible_mpp_is_refused(tmp_path, image):
    path = str(tmp_path / 'dpi72.tif')  # a photo editor's default, not a scanner's
    tifffile.imwrite(path, image, photometric='rgb', resolution=(72, 72), resolutionunit='INCH')
    with SlideReader(path) as reader:
        assert reader.mpp is None
        with pytest.raises(SlideResolutionError, match='outside 0.05-50'):
            reader.require_mpp()
    with pytest.raises(SlideResolutionError, match='--base-mpp'), \
            SlideReader(path, base_mpp=100) as reader:
        reader.require_mpp()
