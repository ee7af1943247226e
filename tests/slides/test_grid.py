"""The one window grid: tile, overlap and scale (or um/px) -> window, stride,
positions and reading level, validated in one place for the converters and
inference alike."""
import math
import os

import numpy as np
import pytest
import tifffile

from crossspec_mmseg.converters import TilingConfig
from crossspec_mmseg.demo import write_pyramid
from crossspec_mmseg.inference import infer_slide
from crossspec_mmseg.slides import SlideReader, WindowGrid, window_positions


@pytest.mark.parametrize('tile, overlap, scale, window, stride', [
    (512, 0.5, 1.0, 512, 256), (512, 0.0, 0.4, 1280, 1280), (64, 0.25, 0.5, 128, 96),
    (50, 0.25, 1.0, 50, 38), (3, 0.9, 10.0, 1, 1)])  # rounded; never below one pixel
def test_window_and_stride(tile, overlap, scale, window, stride):
    grid = WindowGrid(tile, overlap, scale)
    assert (grid.window, grid.stride) == (window, stride)
    assert grid.downsample == window / tile


def test_positions_cover_the_slide_and_end_at_its_border():
    grid = WindowGrid(64, 0.5)
    assert grid.positions(200) == [0, 32, 64, 96, 128, 136] == window_positions(200, 64, 32)
    assert grid.positions(50) == [0]
    xs, ys = grid.starts((100, 200))
    assert (xs, ys) == (grid.positions(200), grid.positions(100))
    windows = list(grid.windows((100, 200)))
    assert windows[:3] == [(0, 0), (32, 0), (64, 0)] and windows[-1] == (136, 36)
    assert len(windows) == grid.count((100, 200)) == len(xs) * len(ys)


def test_from_mpp_and_reading_level(tmp_path):
    grid = WindowGrid.from_mpp(256, 0.5, slide_mpp=0.25, target_mpp=1.0)
    assert grid == WindowGrid(256, 0.5, 0.25) and grid.window == 1024
    path = str(tmp_path / 'slide.svs')
    write_pyramid(path, np.zeros((300, 400, 3), np.uint8), 'svs', 0.25, downsamples=(1, 2, 4),
                  tile=64)
    with SlideReader(path) as reader:
        assert [WindowGrid.from_mpp(64, 0, reader.require_mpp(), mpp).level(reader)
                for mpp in (0.25, 0.5, 0.8, 1.0, 4.0)] == [0, 1, 1, 2, 2]


@pytest.mark.parametrize('kwargs, name', [
    (dict(tile=0), 'tile'), (dict(tile=-4), 'tile'), (dict(tile=2.5), 'tile'),
    (dict(tile=True), 'tile'), (dict(overlap=1.0), 'overlap'), (dict(overlap=-0.1), 'overlap'),
    (dict(overlap=math.nan), 'overlap'), (dict(scale=0), 'scale'),
    (dict(scale=math.inf), 'scale'), (dict(scale='0.5'), 'scale')])
def test_bad_settings_named_in_one_line_by_grid_tiling_and_inference(kwargs, name, tmp_path):
    pattern = f'^invalid {name}={kwargs[name]!r}: '.replace('(', r'\(').replace(')', r'\)')
    for make in (lambda: WindowGrid(**kwargs), lambda: TilingConfig(**kwargs)):
        with pytest.raises(ValueError, match=pattern) as caught:
            make()
        assert '\n' not in str(caught.value)
    with pytest.raises(ValueError, match=pattern):  # before the slide is opened
        infer_slide(None, str(tmp_path / 'absent.svs'), str(tmp_path / 'mask.tif'), **kwargs)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize('kwargs, pattern', [
    (dict(batch=0), '^invalid batch=0: '), (dict(mpp=0.0), '^invalid mpp=0.0: '),
    (dict(mpp=-1.0), '^invalid mpp=-1.0: ')])
def test_inference_checks_batch_and_mpp_before_any_work(kwargs, pattern, tmp_path):
    slide = str(tmp_path / 'slide.tif')
    tifffile.imwrite(slide, np.zeros((40, 40, 3), np.uint8), photometric='rgb')
    with pytest.raises(ValueError, match=pattern):
        infer_slide(None, slide, str(tmp_path / 'out' / 'mask.tif'), **kwargs)
    assert os.listdir(tmp_path) == ['slide.tif']
    with pytest.raises(ValueError, match='^invalid slide um/px=0: '):
        WindowGrid.from_mpp(64, 0.5, 0, 1.0)
    if 'mpp' in kwargs:
        with pytest.raises(ValueError, match=pattern):
            TilingConfig(**kwargs)
