"""open_slide: tifffile for TIFFs, OpenSlide (optional) for other formats,
behind the same level/um-per-px interface; a clear error without it."""
import sys
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from crossspec_mmseg.slides import OpenSlideReader, SlideReader, SlideReadError, open_slide

IMAGE = np.random.default_rng(0).integers(0, 255, (400, 600, 3), np.uint8)


class FakeOpenSlide:
    """OpenSlide's API over an in-memory two-level pyramid at 0.5 um/px."""

    def __init__(self, path):
        self.levels_data = [IMAGE, cv2.resize(IMAGE, (150, 100), interpolation=cv2.INTER_AREA)]
        self.dimensions = (600, 400)
        self.level_dimensions = [(600, 400), (150, 100)]
        self.properties = {'openslide.mpp-x': '0.5'}
        self.reads = []

    def read_region(self, location, level, size):
        self.reads.append(level)
        scale = 600 // self.level_dimensions[level][0]
        x, y = location[0] // scale, location[1] // scale
        rgb = self.levels_data[level][y:y + size[1], x:x + size[0]]
        return np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])  # RGBA, as PIL's

    def close(self):
        pass


@pytest.fixture
def mrxs(tmp_path):
    path = tmp_path / 'slide.mrxs'
    path.write_bytes(b'not a TIFF')
    return str(path)


def test_openslide_reads_other_formats_by_level(mrxs, monkeypatch):
    monkeypatch.setitem(sys.modules, 'openslide', SimpleNamespace(OpenSlide=FakeOpenSlide))
    with open_slide(mrxs) as reader:
        assert isinstance(reader, OpenSlideReader) and reader.mpp == 0.5
        window = reader.read_resized(40, 80, 320, 160, reader.downsample_for(2.0))
        assert reader._slide.reads == [1]  # level 0 untouched
        assert (window == reader._slide.levels_data[1][20:60, 10:90]).all()


def test_real_openslide_fills_missing_tiles_with_the_background(tmp_path):
    """A real OpenSlide returns transparent black where a tile is missing; the
    reader composites it over the background (white), as tissue-free glass."""
    try:
        import openslide  # noqa: F401
    except (ImportError, OSError):  # OSError: openslide-python without the library
        pytest.skip('OpenSlide not installed')
    import tifffile
    path = str(tmp_path / 'sparse.tif')
    tifffile.imwrite(path, np.full((512, 512, 3), 200, np.uint8), tile=(256, 256),
                     photometric='rgb')
    with tifffile.TiffFile(path) as tif:
        counts = tif.pages[0].tags['TileByteCounts'].valueoffset
    with open(path, 'r+b') as f:  # first tile missing: byte count 0
        f.seek(counts)
        f.write(b'\0' * 4)
    with OpenSlideReader(path) as reader:
        window = reader.read(0, 0, 512, 512)
    assert (window[:256, :256] == 255).all() and (window[256:, 256:] == 200).all()


def test_without_openslide_the_error_names_the_extra(mrxs, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, 'openslide', None)  # import fails
    with pytest.raises(SlideReadError, match=r'crossspec_mmseg\[openslide\]'):
        open_slide(mrxs)
    tiff = str(tmp_path / 'slide.tif')
    import tifffile
    tifffile.imwrite(tiff, IMAGE, photometric='rgb')
    with open_slide(tiff) as reader:
        assert isinstance(reader, SlideReader)
