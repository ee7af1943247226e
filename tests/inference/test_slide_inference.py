"""Tiled whole-slide inference reproduces whole-image prediction; outputs are sound."""
import os
from types import SimpleNamespace

import numpy as np
import pytest
import tifffile
import torch
import torch.nn.functional as F
from mmseg.models import SegDataPreProcessor

from crossspec_mmseg.evaluation import count_components
from crossspec_mmseg.inference import TilePredictor, channel_argmax, infer_slide
from crossspec_mmseg.slides import rle_decode


class ContextStub:
    """A deterministic segmentor with a 9 px receptive field: class 1 where the
    local mean intensity is high. Zero padding matches tiles padded with 0."""

    def __init__(self):
        self.data_preprocessor = SegDataPreProcessor(mean=[0, 0, 0], std=[1, 1, 1],
                                                     bgr_to_rgb=True)

    def inference(self, inputs, metas):
        gray = inputs.float().mean(1, keepdim=True) / 255
        local = F.avg_pool2d(gray, 9, stride=1, padding=4, count_include_pad=True)
        return torch.cat([0.5 - local, local - 0.5], 1) * 20

    def whole(self, image):
        data = self.data_preprocessor(dict(inputs=[torch.from_numpy(
            np.ascontiguousarray(image[..., ::-1])).permute(2, 0, 1)]), False)
        return self.inference(data['inputs'], None).argmax(1)[0].numpy().astype(np.uint8)


@pytest.fixture(scope='module')
def slide(tmp_path_factory):
    rng = np.random.default_rng(0)
    image = np.full((300, 430, 3), 60, np.uint8)
    for _ in range(25):  # bright discs = structures
        y, x, r = rng.integers(0, 300), rng.integers(0, 430), rng.integers(5, 25)
        yy, xx = np.ogrid[:300, :430]
        image[(yy - y) ** 2 + (xx - x) ** 2 < r * r] = 220
    image += rng.integers(0, 20, image.shape, dtype=np.uint8)
    path = str(tmp_path_factory.mktemp('slide') / 'slide.tiff')
    tifffile.imwrite(path, np.moveaxis(image, 2, 0), photometric='rgb', planarconfig='separate')
    return path, image


@pytest.mark.parametrize('overlap', [0.5, 0.25])
def test_center_blending_reproduces_whole_image_prediction(slide, tmp_path, overlap):
    path, image = slide
    model = ContextStub()
    out = str(tmp_path / 'mask.tif')
    result = infer_slide(model, path, out, tile=64, overlap=overlap, blend='center', batch=3)
    mask = tifffile.imread(out)
    assert mask.shape == image.shape[:2] and result.tiles_run > 0
    assert (mask == model.whole(image)).all()


def test_mean_blending_shows_seams_center_does_not(slide, tmp_path):
    """Averaging lets tile borders (no context) leak in; centre ownership never does."""
    path, image = slide
    model = ContextStub()
    expected = model.whole(image)
    infer_slide(model, path, str(tmp_path / 'mean.tif'), tile=64, overlap=0.25, blend='mean')
    infer_slide(model, path, str(tmp_path / 'gauss.tif'), tile=64, overlap=0.5,
                blend='gaussian')
    mean_err = (tifffile.imread(str(tmp_path / 'mean.tif')) != expected).mean()
    gauss_err = (tifffile.imread(str(tmp_path / 'gauss.tif')) != expected).mean()
    assert mean_err > 0 and gauss_err < 0.01


def test_rle_count_and_png_output(slide, tmp_path):
    path, image = slide
    model = ContextStub()
    result = infer_slide(model, path, str(tmp_path / 'mask.png'), tile=64, rle=True,
                         count_class=1, min_area=20)
    import cv2
    mask = cv2.imread(str(tmp_path / 'mask.png'), cv2.IMREAD_UNCHANGED)
    assert (rle_decode(result.rle, mask.shape) == (mask > 0)).all()
    assert result.count == count_components(mask == 1, 20) > 5


def test_failed_run_leaves_no_output(slide, tmp_path):
    path, _ = slide

    class Broken(ContextStub):
        def inference(self, inputs, metas):
            raise RuntimeError('out of memory')
    with pytest.raises(RuntimeError):
        infer_slide(Broken(), path, str(tmp_path / 'mask.tif'), tile=64)
    assert os.listdir(tmp_path) == []


@pytest.mark.heavy
def test_cli_with_a_config_and_checkpoint(slide, tmp_path, demo_data):
    """tools/infer_slide.py: config + checkpoint -> mask, Kaggle RLE row, summary."""
    import csv
    import json

    from helpers import TINY_CONFIG, run_tool, write_tiny_checkpoint
    checkpoint = write_tiny_checkpoint(tmp_path / 'model.pth')
    path, image = slide
    out = str(tmp_path / 'pred' / 'slide.tif')
    proc = run_tool(['tools/infer_slide.py', TINY_CONFIG, checkpoint, path, '--out', out,
                     '--tile', '64', '--rle', '--count-class', '1'], demo_data, fresh=False)
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    mask = tifffile.imread(out)
    assert mask.shape == image.shape[:2] and summary['shape'] == list(mask.shape)
    (header, row), = [list(csv.reader(open(summary['rle'])))]
    assert header == ['id', 'predicted'] and row[0] == 'slide'
    assert (rle_decode(row[1], mask.shape) == (mask > 0)).all()
    # What a user can type wrong: one line naming the file, exit 1, no traceback.
    broken = tmp_path / 'broken.tiff'
    broken.write_bytes(b'II*\x00 not really a tiff')
    for slide_path, flags, expected in ((str(tmp_path / 'missing.tiff'), [], 'not found'),
                                        (str(broken), [], 'TIFF'),
                                        (path, ['--overlap', '1.5'], 'invalid overlap=1.5'),
                                        (path, ['--batch', '0'], 'invalid batch=0')):
        proc = run_tool(['tools/infer_slide.py', TINY_CONFIG, checkpoint, slide_path, '--out',
                         str(tmp_path / 'x.tif'), *flags], demo_data, check=False, fresh=False)
        last = proc.stderr.strip().splitlines()[-1]
        assert proc.returncode == 1 and 'Traceback' not in proc.stderr
        assert last.startswith('error: ') and expected in last
        assert slide_path in last or flags
    assert not (tmp_path / 'x.tif').exists()


@pytest.mark.parametrize('bgr_to_rgb', [True, False])
def test_batched_preprocessing_equals_mmseg_preprocessor(bgr_to_rgb):
    """One fused op on the batch == SegDataPreProcessor on MMSeg-loaded (BGR) images."""
    pre = SegDataPreProcessor(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                              bgr_to_rgb=bgr_to_rgb)
    model = SimpleNamespace(data_preprocessor=pre)
    rgb = np.random.default_rng(1).integers(0, 256, (3, 3, 20, 24), dtype=np.uint8)
    ours, metas = TilePredictor(model).inputs(rgb)
    bgr = [torch.from_numpy(t[::-1].copy()) for t in rgb]
    expected = pre(dict(inputs=bgr), False)['inputs']
    torch.testing.assert_close(ours, expected)
    assert metas[0]['img_shape'] == (20, 24)


def test_padding_preprocessor_is_cropped_back(slide, tmp_path):
    """A test_cfg size_divisor (as SegNeXt's) pads 64 -> 96; the logits are cropped
    back before resizing to the full-resolution window (scale 0.5)."""
    path, _ = slide
    plain, padding = ContextStub(), ContextStub()
    padding.data_preprocessor = SegDataPreProcessor(
        mean=[0, 0, 0], std=[1, 1, 1], bgr_to_rgb=True, test_cfg=dict(size_divisor=48))
    for name, model in (('plain.tif', plain), ('padding.tif', padding)):
        infer_slide(model, path, str(tmp_path / name), tile=64, overlap=0.5, scale=0.5)
    assert (tifffile.imread(str(tmp_path / 'padding.tif'))
            == tifffile.imread(str(tmp_path / 'plain.tif'))).all()


def test_channel_argmax_matches_torch():
    scores = torch.randn(2, 5, 7, 9)
    labels = channel_argmax(scores)
    assert labels.dtype == torch.uint8 and (labels == scores.argmax(1)).all()
    assert (channel_argmax(scores[:, :1]) == 0).all()


@pytest.mark.parametrize('scale, blend', [(1.0, 'center'), (0.5, 'center'), (0.5, 'gaussian'),
                                          (1.0, 'mean')])
def test_labels_cross_to_the_host_once_per_batch_or_band(slide, tmp_path, monkeypatch, scale,
                                                         blend):
    """Upsampling, argmax/softmax and mean/gaussian blending stay on the device;
    only uint8 labels come back: one copy per batch (centre) or per finished
    row band (blends), counted at Tensor.cpu, the only way results leave the
    device."""
    import math

    from crossspec_mmseg.slides import WindowGrid
    path, image = slide
    calls = []
    real_cpu = torch.Tensor.cpu
    monkeypatch.setattr(torch.Tensor, 'cpu', lambda self, *a, **k: calls.append(
        (self.shape, self.dtype)) or real_cpu(self, *a, **k))
    grid, batch = WindowGrid(64, 0.5, scale), 3
    infer_slide(ContextStub(), path, str(tmp_path / 'mask.tif'), tile=grid.tile,
                overlap=grid.overlap, scale=scale, blend=blend, batch=batch)
    xs, ys = grid.starts(image.shape[:2])
    per_row = math.ceil(len(xs) / batch) if blend == 'center' else 1
    assert len(calls) == len(ys) * per_row
    assert all(dtype == torch.uint8 for _, dtype in calls)
    if blend != 'center':  # whole bands of the slide's width
        assert all(shape[-1] == image.shape[1] for shape, _ in calls)


def test_skipped_background_rows_then_three_class_blending(tmp_path):
    """Rows with no tissue are skipped (label 0); blending starts with the first tissue row."""
    image = np.full((200, 150, 3), 240, np.uint8)       # white glass ...
    image[90:] = (150, 60, 140)                         # ... then stained tissue
    image[120:160, 40:90] = (60, 20, 90)
    path = str(tmp_path / 'slide.tiff')
    tifffile.imwrite(path, image, photometric='rgb')

    class ThreeClass(ContextStub):
        def inference(self, inputs, metas):
            local = super().inference(inputs, metas)[:, 1:] / 20 + 0.5  # 9 px mean, 0..1
            return torch.cat([torch.zeros_like(local), local - 0.3, 0.3 - local], 1)

    out = str(tmp_path / 'mask.tif')
    result = infer_slide(ThreeClass(), path, out, tile=48, overlap=0.5, blend='mean',
                         min_tissue=0.5)
    mask = tifffile.imread(out)
    assert result.tiles_skipped > 0 and result.tiles_run > 0
    assert (mask[:60] == 0).all()
    assert (mask[100:115, 10:140] == 1).all() and (mask[130:150, 50:80] == 2).all()


def test_bad_output_extension_fails_before_any_work(slide, tmp_path):
    class Counting(ContextStub):
        calls = 0

        def inference(self, inputs, metas):
            Counting.calls += 1
            return super().inference(inputs, metas)
    with pytest.raises(ValueError, match='mask.jpg'):
        infer_slide(Counting(), slide[0], str(tmp_path / 'mask.jpg'), tile=64)
    assert Counting.calls == 0 and os.listdir(tmp_path) == []


@pytest.mark.parametrize('threshold, expected', [(0.3, 1), (0.5, 0)])
def test_sigmoid_head_uses_its_threshold(slide, tmp_path, threshold, expected):
    """One-channel heads: foreground where sigmoid > decode_head.threshold, as MMSeg."""
    class SigmoidStub(ContextStub):
        decode_head = SimpleNamespace(threshold=threshold)

        def inference(self, inputs, metas):  # sigmoid 0.4 everywhere
            return torch.full_like(inputs[:, :1], float(np.log(0.4 / 0.6)))
    infer_slide(SigmoidStub(), slide[0], str(tmp_path / 'mask.tif'), tile=64)
    assert (tifffile.imread(str(tmp_path / 'mask.tif')) == expected).all()


@pytest.mark.parametrize('blend', ['center', 'gaussian'])
def test_tta_flips_back_before_blending(slide, tmp_path, blend):
    """The box filter is flip-equivariant: with the flips undone, TTA changes nothing
    (a prediction left mirrored would); a lopsided model's TTA mask differs."""
    path, _ = slide
    for tta in (False, True):
        infer_slide(ContextStub(), path, str(tmp_path / f'{tta}.tif'), tile=64, blend=blend,
                    tta=tta)
    assert (tifffile.imread(str(tmp_path / 'True.tif'))
            == tifffile.imread(str(tmp_path / 'False.tif'))).all()

    class Shifted(ContextStub):  # looks 6 px to the right and 3 px down
        def inference(self, inputs, metas):
            logits = super().inference(inputs, metas)
            return F.pad(logits[..., 3:, 6:], (0, 6, 0, 3), value=0)
    for tta in (False, True):
        infer_slide(Shifted(), path, str(tmp_path / f'shifted{tta}.tif'), tile=64, blend=blend,
                    tta=tta)
    assert (tifffile.imread(str(tmp_path / 'shiftedTrue.tif'))
            != tifffile.imread(str(tmp_path / 'shiftedFalse.tif'))).any()
