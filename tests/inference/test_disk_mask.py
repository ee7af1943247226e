"""The on-disk mask reads back what was written, by rows, with steps (pyramid
levels) and as tiles, like an in-memory array; the exports written from it
equal those written from the array."""
import filecmp
import os

import numpy as np
import pytest
import tifffile

from crossspec_mmseg.inference import SlideOutputs, disk_mask, write_outputs
from crossspec_mmseg.inference.disk_mask import DiskMask, mask_bands, mask_tiles, read_rows

SHAPE = (301, 520)  # wider than a 512 px tile: two OME-TIFF levels


@pytest.fixture
def labels():
    rng = np.random.default_rng(3)
    return rng.choice(3, SHAPE, p=[0.6, 0.3, 0.1]).astype(np.uint8)


@pytest.fixture
def on_disk(labels, tmp_path):
    with DiskMask(str(tmp_path / 'mask.u8'), SHAPE) as mask:
        for first in (200, 0, 100):  # any order
            mask.write(first, labels[first:first + 100])
        mask.write(300, labels[300:])
        yield mask


def test_rows_and_levels_read_back(labels, on_disk):
    assert (on_disk.rows(0, SHAPE[0]) == labels).all()
    for start, stop, step in [(0, 301, 2), (5, 290, 4), (17, 18, 1), (250, 400, 64), (0, 0, 1)]:
        expected = labels[start:stop:step, ::step]
        assert (on_disk.rows(start, stop, step) == expected).all()
        assert (read_rows(labels, start, stop, step) == expected).all()
    bands = list(mask_bands(on_disk))
    assert np.vstack([b for _, b in bands]).tolist() == labels.tolist()
    for step in (1, 2, 8):
        assert all((a == b).all() for a, b in zip(mask_tiles(on_disk, 64, step),
                                                  mask_tiles(labels, 64, step)))


def test_unwritten_rows_are_background_and_close_removes_the_file(tmp_path):
    path = str(tmp_path / 'mask.u8')
    mask = DiskMask(path, (4, 3))
    mask.write(1, np.full((1, 3), 7, np.uint8))
    assert mask.rows(0, 4).tolist() == [[0, 0, 0], [7, 7, 7], [0, 0, 0], [0, 0, 0]]
    mask.close()
    assert not os.path.exists(path)


def test_exports_from_disk_equal_exports_from_memory(labels, on_disk, tmp_path):
    def outputs(name):
        folder = tmp_path / name
        folder.mkdir()
        return SlideOutputs(geojson=str(folder / 'o.geojson'), objects_csv=str(folder / 'o.csv'),
                            ome_tiff=str(folder / 'o.ome.tif'))

    from_disk, from_memory = outputs('disk'), outputs('memory')
    write_outputs(on_disk, 0.5, from_disk)
    write_outputs(labels, 0.5, from_memory)
    assert filecmp.cmp(from_disk.geojson, from_memory.geojson, shallow=False)
    assert filecmp.cmp(from_disk.objects_csv, from_memory.objects_csv, shallow=False)
    with tifffile.TiffFile(from_disk.ome_tiff) as tif:
        levels = [level.asarray() for level in tif.series[0].levels]
    assert [lv.shape for lv in levels] == [SHAPE, (151, 260)]
    assert (levels[0] == labels).all() and (levels[1] == labels[::2, ::2]).all()


def test_an_error_while_reading_leaves_no_output(labels, tmp_path, monkeypatch):
    """Objects stream into the GeoJSON and the table: a failure part-way
    leaves neither file (nor a temporary one) behind."""
    class FailingMask:
        shape = SHAPE

        def __getitem__(self, rows):
            if rows[0].start >= 100:
                raise OSError('disk gone')
            return labels[rows]

    monkeypatch.setattr(disk_mask, 'BAND_PIXELS', 50 * SHAPE[1])
    outputs = SlideOutputs(geojson=str(tmp_path / 'o.geojson'), objects_csv=str(tmp_path / 'o.csv'))
    with pytest.raises(OSError, match='disk gone'):
        write_outputs(FailingMask(), 0.5, outputs)
    assert os.listdir(tmp_path) == []
