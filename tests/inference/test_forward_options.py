"""--amp (bfloat16 autocast on CPU) and --channels-last change how the forward
runs, not what it predicts (beyond bfloat16 rounding); --tta averages the
probabilities of the flipped tiles."""
import numpy as np
import pytest
import torch
from mmseg.models import SegDataPreProcessor

from crossspec_mmseg.inference import TilePredictor, channel_argmax


class ConvSegmentor(torch.nn.Module):
    """Two random convolutions: a real convolutional forward, in a segmentor's API."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.data_preprocessor = SegDataPreProcessor(mean=[120, 120, 120], std=[60, 60, 60],
                                                     bgr_to_rgb=True)
        self.body = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.ReLU(),
                                        torch.nn.Conv2d(16, 3, 3, padding=1))
        self.dtypes = []
        self.body.register_forward_hook(lambda module, args, out: self.dtypes.append(out.dtype))

    def inference(self, inputs, metas):
        return self.body(inputs)


def tiles():
    return np.random.default_rng(1).integers(0, 255, (2, 3, 64, 64), np.uint8)


def test_amp_runs_bfloat16_and_predicts_the_same_labels():
    reference = TilePredictor(ConvSegmentor())(tiles())
    model = ConvSegmentor()
    logits = TilePredictor(model, amp=True)(tiles())
    assert model.dtypes == [torch.bfloat16] and logits.dtype == torch.float32
    agree = (channel_argmax(logits) == channel_argmax(reference)).float().mean()
    assert agree >= 0.98


def test_channels_last_gives_the_same_logits():
    reference = TilePredictor(ConvSegmentor())(tiles())
    model = ConvSegmentor()
    logits = TilePredictor(model, channels_last=True)(tiles())
    assert model.body[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert torch.allclose(logits, reference, atol=1e-4)


def mean_flipped_probabilities(model, rgb):
    """The TTA result computed apart: each flip of the uint8 tiles through a plain
    predictor, probabilities flipped back (numpy) and averaged."""
    predict = TilePredictor(model)
    total = 0
    for axis in (None, 3, 2):
        flipped = rgb if axis is None else np.ascontiguousarray(np.flip(rgb, axis))
        probs = predict(flipped).softmax(1).numpy()
        total = total + (probs if axis is None else np.flip(probs, axis))
    return total / 3


def test_tta_is_the_mean_of_the_flipped_predictions():
    model, rgb = ConvSegmentor(), tiles()
    plain = TilePredictor(model)(rgb).softmax(1).numpy()
    flipped = np.flip(TilePredictor(model)(np.ascontiguousarray(rgb[..., ::-1])).softmax(1)
                      .numpy(), 3)
    assert np.abs(plain - flipped).max() > 0.05  # the model is not flip-equivariant
    expected = mean_flipped_probabilities(model, rgb)
    tta = TilePredictor(model, tta=True)(rgb)
    assert tta.shape == (2, 3, 64, 64) and tta.dtype == torch.float32
    np.testing.assert_allclose(tta.softmax(1).numpy(), expected, atol=1e-5)
    assert (channel_argmax(tta) != channel_argmax(torch.from_numpy(plain))).any()


def test_tta_keeps_padding_at_the_bottom_right():
    """A padding preprocessor (size_divisor) pads each flipped tile as it pads a tile."""
    model = ConvSegmentor()
    model.data_preprocessor = SegDataPreProcessor(mean=[120] * 3, std=[60] * 3, bgr_to_rgb=True,
                                                  test_cfg=dict(size_divisor=16))
    rgb = tiles()[..., :20, :24]
    tta = TilePredictor(model, tta=True)(np.ascontiguousarray(rgb))
    assert tta.shape[2:] == (20, 24)
    np.testing.assert_allclose(tta.softmax(1).numpy(), mean_flipped_probabilities(model, rgb),
                               atol=1e-5)


def test_tta_with_channels_last_and_amp():
    reference = TilePredictor(ConvSegmentor(), tta=True)(tiles())
    last = TilePredictor(ConvSegmentor(), channels_last=True, tta=True)(tiles())
    assert torch.allclose(last, reference, atol=1e-4)
    model = ConvSegmentor()
    amp = TilePredictor(model, amp=True, tta=True)(tiles())
    assert model.dtypes == [torch.bfloat16] * 3
    agree = (channel_argmax(amp) == channel_argmax(reference)).float().mean()
    assert agree >= 0.98


def test_tta_of_a_sigmoid_head_averages_sigmoids():
    class OneChannel(ConvSegmentor):
        def inference(self, inputs, metas):
            return self.body(inputs)[:, :1]
    model, rgb = OneChannel(), tiles()
    total = 0
    for axis in (None, 3, 2):
        flipped = rgb if axis is None else np.ascontiguousarray(np.flip(rgb, axis))
        data = TilePredictor(model).inputs(flipped)[0]
        probs = model.inference(data, None).sigmoid().detach().numpy()
        total = total + (probs if axis is None else np.flip(probs, axis))
    logits = TilePredictor(model, tta=True)(rgb)
    assert logits.shape[1] == 2  # (logit(threshold), logit(mean sigmoid))
    np.testing.assert_allclose(logits[:, 1:].sigmoid().numpy(), total / 3, atol=1e-5)


@pytest.mark.heavy
def test_cli_tta_writes_a_mask(tmp_path):
    import tifffile

    from helpers import TINY_CONFIG, run_tool, write_tiny_checkpoint
    checkpoint = write_tiny_checkpoint(tmp_path / 'model.pth')
    image = np.random.default_rng(0).integers(0, 255, (80, 100, 3), np.uint8)
    tifffile.imwrite(tmp_path / 'slide.tif', image, photometric='rgb')
    out = tmp_path / 'pred' / 'slide.tif'
    run_tool(['tools/infer_slide.py', TINY_CONFIG, checkpoint, str(tmp_path / 'slide.tif'),
              '--out', str(out), '--tile', '64', '--tta', '--amp', '--channels-last'],
             str(tmp_path), fresh=False)
    assert tifffile.imread(out).shape == (80, 100)
