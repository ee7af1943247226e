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


def test_without_openslide_the_error_names_the_extra(mrxs, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, 'openslide', None)  # import fails
    with pytest.raises(SlideReadError, match=r'crossspec_mmseg\[openslide\]'):
        open_slide(mrxs)
    tiff = str(tmp_path / 'slide.tif')
    import tifffile
    tifffile.imwrite(tiff, IMAGE, photometric='rgb')
    with open_slide(tiff) as reader:
        assert isinstance(reader, SlideReader)
