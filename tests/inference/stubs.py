"""Segmentors the inference tests share (import as ``from stubs import ...``:
pytest puts this folder on ``sys.path``)."""
import torch
from mmseg.models import SegDataPreProcessor


class BrightStub:
    """Class 1 where a pixel is bright: a segmentor without context, so its
    mask at any resolution is the thresholded slide (torch only: it also runs
    in a forked child)."""

    def __init__(self):
        self.data_preprocessor = SegDataPreProcessor(mean=[0, 0, 0], std=[1, 1, 1],
                                                     bgr_to_rgb=True)

    def inference(self, inputs, metas):
        gray = inputs.float().mean(1, keepdim=True) / 255
        return torch.cat([0.5 - gray, gray - 0.5], 1) * 20
