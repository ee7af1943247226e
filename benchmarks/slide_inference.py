"""Whole-slide tiled inference: throughput, peak memory and Dice at tile seams.

Ours (`infer_slide`, centre blending, reading the TIFF window by window and
writing a tiled TIFF) against MMSeg's own `slide` mode
(`EncoderDecoder.slide_inference`, plain averaging of overlapping logits) and
MONAI's `sliding_window_inference` (Gaussian), both on the slide already in
memory, with the same model, tile size and overlap; each in its own process.
The model is a small fixed network with a 9 px receptive field (a box
filter and a threshold), so the ground truth (the painted structures) is
known and every difference comes from the tiling.

    pip install monai   # benchmark-only dependency
    python benchmarks/slide_inference.py [--side 8000] [--tile 512] [--overlap 0.5]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
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


def make_slide(side: int, path: str) -> None:
    """Bright discs on a dark background (uncompressed tiled TIFF) + truth."""
    import tifffile
    rng = np.random.default_rng(0)
    image = np.full((side, side, 3), 50, np.uint8)
    import cv2
    for _ in range(side * side // 20000):
        cv2.circle(image, tuple(int(v) for v in rng.integers(0, side, 2)),
                   int(rng.integers(6, 30)), (220, 220, 220), -1)
    tifffile.imwrite(path, image, tile=(512, 512), photometric='rgb')
    np.save(path + '.truth.npy', (image[..., 0] > 128).astype(np.uint8))


def seam_band(side: int, tile: int, overlap: float, width: int = 8) -> np.ndarray:
    """Pixels within ``width`` of a tile border (where tiling can go wrong)."""
    from crossspec_mmseg.converters.tiling import window_positions
    stride = max(1, round(tile * (1 - overlap)))
    lines = np.zeros(side, bool)
    for s in window_positions(side, tile, stride):
        for edge in (s, s + tile):
            lines[max(0, edge - width):edge + width] = True
    return lines[:, None] | lines[None, :]


def dice(pred, truth):
    inter = np.logical_and(pred, truth).sum()
    return 200.0 * inter / max(pred.sum() + truth.sum(), 1)


def run_method(method: str, slide: str, tile: int, overlap: float) -> dict:
    import tifffile
    from mmseg.models import SegDataPreProcessor
    from mmseg.models.segmentors import EncoderDecoder

    from crossspec_mmseg.inference import infer_slide
    try:
        from monai.inferers import sliding_window_inference
    except ImportError:
        sliding_window_inference = None
    model = BoxModel().eval()
    stride = max(1, round(tile * (1 - overlap)))
    start = time.perf_counter()  # imports above are not timed
    if method == 'ours (centre)':
        stub = SimpleNamespace(
            data_preprocessor=SegDataPreProcessor(mean=[0, 0, 0], std=[1, 1, 1],
                                                  bgr_to_rgb=True),
            inference=lambda inputs, metas: model(inputs.float()))
        out = slide + '.pred.tif'
        infer_slide(stub, slide, out, tile=tile, overlap=overlap, blend='center', batch=8)
        pred = tifffile.imread(out)
    elif method == 'model forward only':
        n = 0
        image = torch.from_numpy(tifffile.imread(slide)).permute(2, 0, 1)[None].float()
        side = image.shape[-1]
        from crossspec_mmseg.converters.tiling import window_positions
        pos = window_positions(side, tile, stride)
        start = time.perf_counter()  # forward time only
        with torch.no_grad():
            for y in pos:
                crops = [image[..., y:y + tile, x:x + tile] for x in pos]
                for i in range(0, len(crops), 8):
                    model(torch.cat(crops[i:i + 8]))
                    n += len(crops[i:i + 8])
        pred = None
    else:
        image = torch.from_numpy(tifffile.imread(slide)).permute(2, 0, 1)[None].float()
        with torch.no_grad():
            if method == 'mmseg slide (mean)':
                fake = SimpleNamespace(
                    test_cfg=SimpleNamespace(stride=(stride, stride), crop_size=(tile, tile)),
                    out_channels=2, encode_decode=lambda crop, metas: model(crop))
                logits = EncoderDecoder.slide_inference(
                    fake, image, [dict(img_shape=image.shape[-2:])])
            else:
                if sliding_window_inference is None:
                    raise SystemExit('monai not installed (pip install monai)')
                logits = sliding_window_inference(image, (tile, tile), 8, model,
                                                  overlap=overlap, mode='gaussian')
        pred = logits.argmax(1)[0].numpy().astype(np.uint8)
    seconds = time.perf_counter() - start
    result = dict(seconds=seconds,
                  peak_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    if pred is not None:
        truth = np.load(slide + '.truth.npy')
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
    parser.add_argument('--child', nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_method(args.child[0], args.child[1], args.tile, args.overlap)))
        return
    methods = ['model forward only', 'ours (centre)', 'mmseg slide (mean)',
               'monai sliding window (gaussian)']
    with tempfile.TemporaryDirectory() as tmp:
        slide = os.path.join(tmp, 'slide.tiff')
        make_slide(args.side, slide)
        mpix = args.side ** 2 / 1e6
        results = {}
        for m in methods:
            proc = subprocess.run([sys.executable, __file__, '--side', str(args.side), '--tile',
                                   str(args.tile), '--overlap', str(args.overlap), '--child', m,
                                   slide], capture_output=True, text=True)
            if proc.returncode:
                print(f'{m}: failed ({proc.stderr.strip().splitlines()[-1]})')
                continue
            results[m] = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f'{args.side} x {args.side} slide, tile {args.tile}, overlap {args.overlap}')
    for m, r in results.items():
        extra = (f"  Dice {r['dice']:.2f}  Dice at seams {r['seam_dice']:.2f}"
                 if 'dice' in r else '')
        print(f'{m:>32}: {r["seconds"]:7.2f} s  {mpix / r["seconds"]:7.1f} MPix/s  '
              f'peak {r["peak_mb"]:6.0f} MB{extra}')
    if 'ours (centre)' in results and 'model forward only' in results:
        ours, fwd = results['ours (centre)'], results['model forward only']
        print(f'ours / model forward time: x{ours["seconds"] / fwd["seconds"]:.2f}')


if __name__ == '__main__':
    main()
