"""--amp (bfloat16 autocast on CPU) and --channels-last change how the forward
runs, not what it predicts (beyond bfloat16 rounding)."""
import numpy as np
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
