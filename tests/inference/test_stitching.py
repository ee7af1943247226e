"""Band stitching on the device against a NumPy reference, and the upsampling
cap of the tile step as a bound on live memory."""
import weakref

import numpy as np
import pytest
import torch

from crossspec_mmseg.inference import BandAccumulator, slide_inference
from crossspec_mmseg.inference.stitching import tile_weights
from crossspec_mmseg.slides import window_positions


def numpy_blend(tiles, xs, ys, window, width, height, blend):
    """Reference: the weighted mean over the whole slide, then argmax;
    pixels no tile covered are 0."""
    weights = tile_weights(window, blend).astype(np.float64)
    classes = next(t for row in tiles for t in row if t is not None).shape[0]
    acc = np.zeros((classes, height, width))
    norm = np.zeros((height, width))
    for y, row in zip(ys, tiles):
        for x, probs in zip(xs, row):
            if probs is None:
                continue
            h, w = probs.shape[1:]
            acc[:, y:y + h, x:x + w] += probs * weights[:h, :w]
            norm[y:y + h, x:x + w] += weights[:h, :w]
    labels = acc.argmax(0).astype(np.uint8)
    labels[norm == 0] = 0
    return labels


@pytest.mark.parametrize('blend', ['mean', 'gaussian'])
def test_device_blending_equals_numpy(blend):
    rng = np.random.default_rng(3)
    width, height, window, stride = 150, 130, 40, 25
    xs, ys = window_positions(width, window, stride), window_positions(height, window, stride)
    tiles = []
    for r, y in enumerate(ys):
        row = []
        for c, x in enumerate(xs):
            if r in (0, 3) or (r + c) % 4 == 1:  # skipped background tiles, whole rows too
                row.append(None)
                continue
            logits = rng.normal(size=(3, min(window, height - y), min(window, width - x)))
            probs = np.exp(logits) / np.exp(logits).sum(0)
            row.append(probs.astype(np.float32))
        tiles.append(row)
    acc = BandAccumulator(width, height, window, xs, ys, blend)
    ours = np.zeros((height, width), np.uint8)
    top = 0
    for r, row in enumerate(tiles):
        for c, probs in enumerate(row):
            if probs is not None:
                acc.add(r, c, torch.from_numpy(probs))
        for first, band in acc.finish_row(r):
            assert first == top and band.dtype == np.uint8  # contiguous bands, in order
            ours[first:first + len(band)] = band
            top = first + len(band)
    assert top == height
    reference = numpy_blend(tiles, xs, ys, window, width, height, blend)
    assert (ours != reference).mean() < 1e-4  # float32 vs float64 sums: near-ties only
    assert (ours == 0).mean() < 0.9 and len(np.unique(ours)) == 3


class Logits:
    """A predictor returning fixed low-resolution logits."""

    def __init__(self, n, classes, side):
        self.scores = torch.randn(n, classes, side, side)

    def __call__(self, inputs):
        return self.scores


@pytest.mark.parametrize('blend', ['center', 'mean'])
def test_upsampled_memory_follows_the_cap(monkeypatch, blend):
    """Peak bytes of full-resolution scores alive at once (every tensor made
    by the upsampling or the softmax, tracked while it lives) as a function of
    the cap: about one chunk whatever the batch, not the whole batch."""
    n, classes, window = 8, 3, 64
    per_tile = classes * window * window * 4
    live, peak = [], [0]
    real_interpolate, real_softmax = torch.nn.functional.interpolate, torch.Tensor.softmax

    def track(tensor):
        live.append(weakref.ref(tensor))
        alive = [ref() for ref in live]
        peak[0] = max(peak[0], sum(t.numel() * t.element_size() for t in alive
                                   if t is not None))
        return tensor

    monkeypatch.setattr(slide_inference.F, 'interpolate',
                        lambda *a, **k: track(real_interpolate(*a, **k)))
    monkeypatch.setattr(torch.Tensor, 'softmax', lambda self, *a, **k: track(
        real_softmax(self, *a, **k)))
    predict = Logits(n, classes, window // 4)
    for cap_tiles in (1, 2, 8):
        live.clear()
        peak[0] = 0
        got = []
        for i, pred in slide_inference._tile_predictions(predict, None, window, blend,
                                                         cap=cap_tiles * per_tile):
            got.append(i)
            del pred  # a caller that has blended the tile lets it go
        assert got == list(range(n))
        # centre: one upsampled chunk; blends: the chunk and its probabilities
        assert peak[0] <= (1 if blend == 'center' else 2) * cap_tiles * per_tile
        assert peak[0] >= cap_tiles * per_tile
