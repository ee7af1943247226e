"""Slide conversion with --workers: wall time of N processes (one slide each)
against one, on the same synthetic HuBMAP download, through the converter's
CLI; the outputs are checked byte for byte.

    python benchmarks/convert_workers.py [--slides 4] [--side 3000] [--tile 256]
        [--workers 1 2]
"""
from __future__ import annotations

import argparse
import os
import os.path as osp
import subprocess
import sys
import tempfile
import time

TOOL = osp.join(osp.dirname(osp.abspath(__file__)), '..', 'tools', 'dataset_converters',
                'hubmap.py')


def tree(root: str) -> dict:
    files = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            path = osp.join(dirpath, name)
            with open(path, 'rb') as f:
                files[osp.relpath(path, root)] = f.read()
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--slides', type=int, default=4)
    parser.add_argument('--side', type=int, default=3000)
    parser.add_argument('--tile', type=int, default=256)
    parser.add_argument('--workers', type=int, nargs='+', default=[1, 2])
    args = parser.parse_args()
    from crossspec_mmseg.demo.raw_downloads import write_hubmap_raw
    with tempfile.TemporaryDirectory() as tmp:
        raw = osp.join(tmp, 'raw')
        write_hubmap_raw(raw, n_slides=args.slides, shape=(args.side, args.side), seed=0)
        seconds, outputs = {}, {}
        for workers in args.workers:
            out = osp.join(tmp, f'out{workers}')
            start = time.perf_counter()
            subprocess.run([sys.executable, TOOL, raw, out, '--tile', str(args.tile),
                            '--anatomy', '--workers', str(workers)], check=True,
                           capture_output=True)
            seconds[workers] = time.perf_counter() - start
            outputs[workers] = tree(out)
    first = args.workers[0]
    same = all(outputs[w] == outputs[first] for w in args.workers)
    print(f'{args.slides} slides {args.side} x {args.side}, tile {args.tile}, '
          f'{len(outputs[first])} files, {os.cpu_count()} cores; outputs byte-identical: {same}')
    for workers in args.workers:
        print(f'--workers {workers}: {seconds[workers]:6.1f} s  '
              f'speedup x{seconds[first] / seconds[workers]:.2f}')


if __name__ == '__main__':
    main()
