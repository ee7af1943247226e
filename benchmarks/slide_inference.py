"""Whole-slide tiled inference: throughput, peak memory and Dice at tile seams.

Ours (`infer_slide`, centre blending, reading the TIFF window by window and
writing a tiled TIFF) against MMSeg's own `slide` mode
(`EncoderDecoder.slide_inference`, plain averaging of overlapping logits) and
MONAI's `sliding_window_inference` (Gaussian), both on the slide already in
memory, with the same model, tile size and overlap; each in its own process.
The model is a small fixed network with a 9 px receptive field (a box
filter and a threshold) and zero padding at its input's borders, like a CNN.
The ground truth is that model applied to the whole slide at once, so every
difference comes from the tiling. "model forward only" is the time spent
inside the model's forward on the same tiles, already in memory: the rest of
ours (reading, preprocessing, blending, writing) is overhead against it.

    pip install monai   # benchmark-only dependency
    python benchmarks/slide_inference.py [--side 8000] [--tile 512] [--overlap 0.5]
        [--model box|mobilenetv3] [--batch 8]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from types import SimpleNamespace

import numpy as np
import torch
import torch.nn.functional as F


class BoxModel(torch.nn.Module):
    """Class 1 where the 9 px local mean intensity is bright."""

    def forward(self, x):  # x: (N, 3, H, W) in 0..255
        local = F.avg_pool2d(x.mean(1, keepdim=True) / 255, 9, stride=1, padding=4)
        return torch.cat([0.5 - local, local - 0.5], 1) * 20


def make_slide(side: int, path: str, truth: bool = True) -> None:
    """Bright discs on a dark background (uncompressed tiled TIFF) + truth:
    the box model's prediction on the whole slide, computed in row bands with
    4 px of context (its receptive field) so it fits in memory."""
    import cv2
    import tifffile
    rng = np.random.default_rng(0)
    image = np.full((side, side, 3), 50, np.uint8)
    for _ in range(side * side // 20000):
        cv2.circle(image, tuple(int(v) for v in rng.integers(0, side, 2)),
                   int(rng.integers(6, 30)), (220, 220, 220), -1)
    tifffile.imwrite(path, image, tile=(512, 512), photometric='rgb')
    if not truth:
        return
    truth, model = np.zeros((side, side), np.uint8), BoxModel()
    with torch.no_grad():
        for y in range(0, side, 1024):
            lo, hi = max(0, y - 4), min(side, y + 1024 + 4)
            band = torch.from_numpy(image[lo:hi]).permute(2, 0, 1)[None].float()
            labels = model(band).argmax(1)[0].numpy()
            truth[y:y + 1024] = labels[y - lo:y - lo + min(1024, side - y)]
    np.save(path + '.truth.npy', truth)


def seam_band(side: int, tile: int, overlap: float, width: int = 8) -> np.ndarray:
    """Pixels within ``width`` of a tile border (where tiling can go wrong)."""
    from crossspec_mmseg.slides import WindowGrid
    lines = np.zeros(side, bool)
    for s in WindowGrid(tile, overlap).positions(side):
        for edge in (s, s + tile):
            lines[max(0, edge - width):edge + width] = True
    return lines[:, None] | lines[None, :]


def dice(pred, truth):
    inter = np.logical_and(pred, truth).sum()
    return 200.0 * inter / max(pred.sum() + truth.sum(), 1)


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not
    inherited from the parent across exec)."""
    with open('/proc/self/status') as f:
        line = next(x for x in f if x.startswith('VmHWM:'))
    return int(line.split()[1]) / 1024


def build_model(name: str):
    """``(data_preprocessor, net)``: ``net`` maps a normalised float batch to logits."""
    from mmseg.models import SegDataPreProcessor
    if name == 'box':
        return (SegDataPreProcessor(mean=[0, 0, 0], std=[1, 1, 1], bgr_to_rgb=True),
                BoxModel().eval())
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    init_default_scope('mmseg')
    cfg = Config.fromfile(os.path.join(os.path.dirname(__file__), '..', 'configs', '_base_',
                                       'models', 'lraspp_m-v3-d8.py'))
    cfg.model.backbone.init_cfg = None  # random weights: nothing is downloaded
    cfg.model.decode_head.num_classes = 2
    segmentor = MODELS.build(cfg.model).eval()

    def net(x):
        return segmentor.encode_decode(x, [dict(img_shape=x.shape[-2:], pad_shape=x.shape[-2:])])
    return segmentor.data_preprocessor, net


def run_method(method: str, slide: str, tile: int, overlap: float, model_name: str,
               batch_size: int) -> dict:
    import tifffile
    from mmseg.models.segmentors import EncoderDecoder

    from crossspec_mmseg.inference import infer_slide
    from crossspec_mmseg.slides import WindowGrid
    try:
        from monai.inferers import sliding_window_inference
    except ImportError:
        sliding_window_inference = None
    preprocessor, net = build_model(model_name)
    grid = WindowGrid(tile, overlap)
    out, logits = slide + '.pred.tif', None
    with torch.no_grad():
        start = time.perf_counter()  # imports and model building are not timed
        if method == 'ours (centre)':
            forward = 0.0

            def timed_net(inputs, metas):
                nonlocal forward
                tick = time.perf_counter()
                logits = net(inputs)
                forward += time.perf_counter() - tick
                return logits
            stub = SimpleNamespace(data_preprocessor=preprocessor, inference=timed_net)
            infer_slide(stub, slide, out, tile=tile, overlap=overlap, blend='center',
                        batch=batch_size)
        else:
            image = torch.from_numpy(tifffile.imread(slide)).permute(2, 0, 1)[None].float()
            image.sub_(preprocessor.mean).div_(preprocessor.std)  # in place: no extra copy
            if method == 'model forward only':
                pos = grid.positions(image.shape[-1])
                forward = 0.0
                for y in pos:
                    crops = [image[..., y:y + tile, x:x + tile] for x in pos]
                    for i in range(0, len(crops), batch_size):
                        batch = torch.cat(crops[i:i + batch_size])
                        tick = time.perf_counter()
                        net(batch)
                        forward += time.perf_counter() - tick
                start = time.perf_counter() - forward  # forward time only
                logits = None
            elif method == 'mmseg slide (mean)':
                fake = SimpleNamespace(
                    test_cfg=SimpleNamespace(stride=(grid.stride,) * 2, crop_size=(tile, tile)),
                    out_channels=2, encode_decode=lambda crop, metas: net(crop))
                logits = EncoderDecoder.slide_inference(
                    fake, image, [dict(img_shape=image.shape[-2:])])
            else:
                if sliding_window_inference is None:
                    raise SystemExit('monai not installed (pip install monai)')
                logits = sliding_window_inference(image, (tile, tile), batch_size, net,
                                                  overlap=overlap, mode='gaussian')
            if logits is not None:
                tifffile.imwrite(out, logits.argmax(1)[0].numpy().astype(np.uint8))
        seconds = time.perf_counter() - start
    result = dict(seconds=seconds, peak_mb=peak_rss_mb())
    if method == 'ours (centre)':
        result['forward_s'] = forward  # time inside the model, same process
    if method != 'model forward only' and os.path.exists(slide + '.truth.npy'):
        pred, truth = tifffile.imread(out), np.load(slide + '.truth.npy')
        band = seam_band(truth.shape[0], tile, overlap)
        result.update(dice=dice(pred == 1, truth == 1),
                      seam_dice=dice((pred == 1) & band, (truth == 1) & band))
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--side', type=int, default=8000)
    parser.add_argument('--tile', type=int, default=512)
    parser.add_argument('--overlap', type=float, default=0.5)
    parser.add_argument('--batch', type=int, default=8,
                        help='tiles per forward (ours, forward only, MONAI; MMSeg runs 1)')
    parser.add_argument('--model', choices=['box', 'mobilenetv3'], default='box',
                        help='box: 9 px box filter, truth known (Dice reported); mobilenetv3: '
                             "MMSeg's LR-ASPP MobileNetV3-large, random weights (speed only)")
    parser.add_argument('--child', nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_method(args.child[0], args.child[1], args.tile, args.overlap,
                                    args.model, args.batch)))
        return
    methods = ['model forward only', 'ours (centre)', 'mmseg slide (mean)',
               'monai sliding window (gaussian)']
    with tempfile.TemporaryDirectory() as tmp:
        slide = os.path.join(tmp, 'slide.tiff')
        make_slide(args.side, slide, truth=args.model == 'box')
        mpix = args.side ** 2 / 1e6
        results = {}
        for m in methods:
            proc = subprocess.run([sys.executable, __file__, '--side', str(args.side), '--tile',
                                   str(args.tile), '--overlap', str(args.overlap), '--model',
                                   args.model, '--batch', str(args.batch), '--child', m, slide],
                                  capture_output=True, text=True)
            if proc.returncode:
                print(f'{m}: failed ({proc.stderr.strip().splitlines()[-1]})')
                continue
            results[m] = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f'{args.side} x {args.side} slide, tile {args.tile}, overlap {args.overlap}, '
          f'model {args.model}, batch {args.batch}')
    for m, r in results.items():
        extra = (f"  Dice {r['dice']:.2f}  Dice at seams {r['seam_dice']:.2f}"
                 if 'dice' in r else '')
        print(f'{m:>32}: {r["seconds"]:7.2f} s  {mpix / r["seconds"]:7.1f} MPix/s  '
              f'peak {r["peak_mb"]:6.0f} MB{extra}')
    if 'ours (centre)' in results:
        ours = results['ours (centre)']
        print(f'ours: {ours["forward_s"]:.2f} s of {ours["seconds"]:.2f} s inside the model '
              f'-> overhead x{ours["seconds"] / ours["forward_s"]:.2f} of its own forward time')
    if 'ours (centre)' in results and 'model forward only' in results:
        ours, fwd = results['ours (centre)'], results['model forward only']
        print(f'ours / model forward only (separate process): '
              f'x{ours["seconds"] / fwd["seconds"]:.2f}')


if __name__ == '__main__':
    main()
