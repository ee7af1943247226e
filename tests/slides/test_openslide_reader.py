"""open_slide: tifffile for TIFFs, OpenSlide (optional) for other formats,
behind one declared interface (SlideSource) that the converters' in-memory
reader implements too; each file opened once; a clear error without the
extra; a new format is one entry in FORMATS."""
import sys
import warnings
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import tifffile

from crossspec_mmseg.converters.raster import ArrayReader
from crossspec_mmseg.slides import (
    FORMATS,
    NotThisFormat,
    OpenSlideReader,
    SlideFormat,
    SlideReader,
    SlideReadError,
    SlideSource,
    open_slide,
)

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


def test_every_reader_is_a_slide_source(mrxs, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, 'openslide', SimpleNamespace(OpenSlide=FakeOpenSlide))
    tiff = str(tmp_path / 'slide.tif')
    tifffile.imwrite(tiff, IMAGE, photometric='rgb')
    with open_slide(tiff) as tif_reader, open_slide(mrxs) as os_reader, \
            ArrayReader(IMAGE, mpp=0.5) as array_reader:
        for reader in (tif_reader, os_reader, array_reader):
            assert isinstance(reader, SlideSource), type(reader)  # every member present
            assert reader.shape == IMAGE.shape[:2] and reader.mpp in (0.5, None)
            assert (reader.read(590, 390, 50, 50) == IMAGE[390:, 590:]).all()  # clipped
            assert (reader.level_rows(0, 10, 12) == IMAGE[10:12]).all()
        assert array_reader.level_for(4.0) == 0 and array_reader.level_side(64, 0) == 64
    assert not isinstance(object(), SlideSource)


def test_a_tiff_is_opened_once(monkeypatch, tmp_path):
    """The format check is the opening: no probe opens the file first."""
    tiff = str(tmp_path / 'slide.tif')
    tifffile.imwrite(tiff, IMAGE, photometric='rgb')
    opened, real = [], tifffile.TiffFile

    def counting(*args, **kwargs):
        opened.append(args[0])
        return real(*args, **kwargs)
    monkeypatch.setattr(tifffile, 'TiffFile', counting)
    with open_slide(tiff) as reader:
        assert reader.shape == (400, 600)
    assert opened == [tiff]


def test_a_new_format_is_one_entry(monkeypatch, tmp_path):
    """Formats are tried in order; one refusing a file (NotThisFormat) passes it
    on; one whose library is missing is skipped, and named if nothing reads it."""
    def fake_opener(path, base_mpp):
        if not path.endswith('.fake'):
            raise NotThisFormat(f'{path}: not a fake slide')
        return ArrayReader(IMAGE, path, base_mpp)
    monkeypatch.setattr(sys.modules['crossspec_mmseg.slides.formats'], 'FORMATS', [
        SlideFormat('absent', fake_opener, lambda: 'absent slides need: pip install absent'),
        FORMATS[0], SlideFormat('fake', fake_opener)])
    path = tmp_path / 'a.fake'
    path.write_bytes(b'fake')
    with open_slide(str(path), 0.5) as reader:
        assert isinstance(reader, ArrayReader) and reader.mpp == 0.5
    other = tmp_path / 'b.other'
    other.write_bytes(b'other')
    with pytest.raises(SlideReadError, match=r'b.other: cannot read TIFF .*; absent slides need'):
        open_slide(str(other))


def test_the_old_open_slide_name_still_works_with_a_warning(tmp_path):
    from crossspec_mmseg.slides import openslide_reader
    with pytest.warns(DeprecationWarning, match='import open_slide from crossspec_mmseg.slides'):
        old = openslide_reader.open_slide
    assert old is open_slide
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        from crossspec_mmseg.slides import open_slide as new  # noqa: F401
