"""Whole-slide conversion: throughput and peak memory, windowed reader vs naive.

Peer: the naive approach, ``tifffile.imread`` of the whole slide, then the same
tiling and writing. Both run the same pipeline (tissue test, PNG tiles,
manifest) in separate processes so peak RSS is each one's own.

    python benchmarks/convert_slide.py [--sizes 10000 20000] [--tile 512] [--overlap 0]
"""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np


def write_slide(path: str, side: int, tile: int = 512) -> None:
    """A tiled, uncompressed RGB TIFF (like most HuBMAP slides): pink tissue
    patches (40 % of 1000 px cells) on white, written tile by tile so the writer
    never holds the slide."""
    import tifffile

    cell = 1000
    tissue = np.random.default_rng(0).random((side // cell + 1,) * 2) < 0.4

    def tiles():
        yy, xx = np.mgrid[0:tile, 0:tile]
        for y in range(0, side, tile):
            for x in range(0, side, tile):
                inside = tissue[np.minimum(yy + y, side - 1) // cell,
                                np.minimum(xx + x, side - 1) // cell]
                block = np.full((tile, tile, 3), 240, np.uint8)
                block[inside] = (200, 120, 170)
                yield block

    tifffile.imwrite(path, tiles(), shape=(side, side, 3), dtype=np.uint8, tile=(tile, tile),
                     photometric='rgb')


def run_one(slide: str, out: str, mode: str, tile: int, overlap: float) -> dict:
    """Convert in this process; report time and peak RSS."""
    import tifffile

    from crossspec_mmseg.converters import SourceImage, TilingConfig, convert_sources
    from crossspec_mmseg.converters.raster import ArrayReader
    from crossspec_mmseg.slides import SlideReader

    with SlideReader(slide) as reader:
        size = reader.shape
    opener = ((lambda: SlideReader(slide)) if mode == 'windowed'
              else (lambda: ArrayReader(tifffile.imread(slide))))
    source = SourceImage(name='slide', size=size, open_reader=opener,
                         labels={'masks': lambda x, y, w, h: np.zeros((h, w), np.uint8)},
                         fields=dict(dataset='bench', species='human'))
    start = time.perf_counter()
    summary = convert_sources([source], out, TilingConfig(tile=tile, overlap=overlap))
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return dict(mode=mode, side=size[0], seconds=seconds, tiles=sum(summary.written.values()),
                mpix_per_s=size[0] * size[1] / 1e6 / seconds, peak_mb=peak_mb)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--sizes', type=int, nargs='+', default=[10000, 20000])
    parser.add_argument('--tile', type=int, default=512)
    parser.add_argument('--overlap', type=float, default=0.0)
    parser.add_argument('--child', nargs=3, metavar=('SLIDE', 'OUT', 'MODE'),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(*args.child, args.tile, args.overlap)))
        return

    tmp = tempfile.mkdtemp(prefix='bench_slide_')
    results = []
    try:
        for side in args.sizes:
            slide = osp.join(tmp, f'slide_{side}.tiff')
            write_slide(slide, side)
            modes = ['windowed', 'naive'] if side == max(args.sizes) else ['windowed']
            for mode in modes:
                out = osp.join(tmp, f'out_{side}_{mode}')
                proc = subprocess.run([sys.executable, __file__, '--tile', str(args.tile),
                                       '--overlap', str(args.overlap), '--child', slide, out,
                                       mode], capture_output=True, text=True, check=True)
                results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
                shutil.rmtree(out)
            os.remove(slide)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print(f'{"slide":>12} {"mode":>9} {"tiles":>6} {"s":>7} {"MPix/s":>7} {"peak MB":>8}')
    for r in results:
        print(f'{r["side"]:>6}x{r["side"]:<5} {r["mode"]:>9} {r["tiles"]:>6} {r["seconds"]:>7.1f} '
              f'{r["mpix_per_s"]:>7.1f} {r["peak_mb"]:>8.0f}')
    big = max(args.sizes)
    ours = next(r for r in results if r['side'] == big and r['mode'] == 'windowed')
    naive = next(r for r in results if r['side'] == big and r['mode'] == 'naive')
    speed = ours['mpix_per_s'] / naive['mpix_per_s']
    print(f'ratio vs naive tifffile.imread at {big} px: throughput x{speed:.2f}, '
          f'peak memory x{ours["peak_mb"] / naive["peak_mb"]:.2f}')


if __name__ == '__main__':
    main()
