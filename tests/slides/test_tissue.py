"""The tissue map: made once from a low level, it skips the windows the
per-window test on level 0 skips, and level 0 is not read for it."""
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
from mmseg.models import SegDataPreProcessor

from crossspec_mmseg.demo import write_pyramid
from crossspec_mmseg.inference import infer_slide
from crossspec_mmseg.slides import SlideReader, TissueMap, tissue_fraction, window_positions

SHAPE = (480, 650)


@pytest.fixture(scope='module')
def slide(tmp_path_factory):
    """Glass, with stained regions of clear extent (the top rows are all glass)."""
    image = np.full(SHAPE + (3,), 238, np.uint8)
    image[148:332, 36:292] = (200, 120, 170)  # edges on the map grid (4 px)
    image[212:468, 348:612] = (150, 60, 140)
    cv2.circle(image, (480, 120), 45, (170, 90, 160), -1)
    image += np.random.default_rng(0).integers(0, 8, image.shape, dtype=np.uint8)
    path = str(tmp_path_factory.mktemp('tissue') / 'slide.svs')
    write_pyramid(path, image, 'svs', 0.5, downsamples=(1, 4, 16), tile=64,
                  compression='zlib')
    return path, image


def grid(window):
    stride = window // 2
    return [(x, y) for y in window_positions(SHAPE[0], window, stride)
            for x in window_positions(SHAPE[1], window, stride)]


def per_window(image, window, min_tissue):
    """The per-window decision on level-0 pixels (what infer_slide did before)."""
    return {(x, y) for x, y in grid(window)
            if tissue_fraction(image[y:y + window, x:x + window]) >= min_tissue}


@pytest.fixture
def level_reads(monkeypatch):
    """The level of every pixel read from a SlideReader."""
    reads = []
    real = SlideReader._read_level

    def counting(self, level, *box):
        reads.append(level)
        return real(self, level, *box)
    monkeypatch.setattr(SlideReader, '_read_level', counting)
    return reads


@pytest.mark.parametrize('window', [64, 128, 200])
def test_map_decides_as_the_per_window_test(slide, level_reads, window):
    """Fractions within 1/32 of level 0's (a window's footprint is rounded to the
    map's 4 px); the same windows kept but for a few within that of the threshold."""
    path, image = slide
    with SlideReader(path) as reader:
        tissue = TissueMap(reader, window)
        ours = {(x, y): tissue.fraction(x, y, window, window) for x, y in grid(window)}
    assert 0 not in level_reads and tissue.level == 1  # made from a coarse level
    level0 = {(x, y): tissue_fraction(image[y:y + window, x:x + window]) for x, y in grid(window)}
    assert max(abs(ours[k] - level0[k]) for k in ours) <= 1 / 32
    assert abs(tissue.slide_fraction - tissue_fraction(image)) <= 1 / 32  # the whole slide
    for min_tissue in (0.05, 0.3, 0.6):
        kept = {k for k, f in ours.items() if f >= min_tissue}
        differ = kept ^ per_window(image, window, min_tissue)
        assert all(abs(level0[k] - min_tissue) <= 1 / 32 for k in differ)
        assert len(differ) <= 0.02 * len(ours)


def test_infer_slide_reads_level0_only_for_rows_with_tissue(slide, tmp_path, level_reads):
    path, _ = slide
    model = SimpleNamespace(
        data_preprocessor=SegDataPreProcessor(mean=[0] * 3, std=[1] * 3, bgr_to_rgb=True),
        inference=lambda inputs, metas: torch.zeros(len(inputs), 2, *inputs.shape[2:]))
    result = infer_slide(model, path, str(tmp_path / 'mask.tif'), tile=64, min_tissue=0.3)
    with SlideReader(path) as reader:
        tissue = TissueMap(reader, 64)
        kept = [(x, y) for x, y in grid(64) if tissue.fraction(x, y, 64, 64) >= 0.3]
    assert result.tiles_run == len(kept) and result.tiles_skipped == len(grid(64)) - len(kept)
    rows = window_positions(SHAPE[0], 64, 32)
    assert level_reads.count(0) == len({y for _, y in kept}) < len(rows)
