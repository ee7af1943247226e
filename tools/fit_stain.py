"""Fit a stain-normalisation target to reference tiles (e.g. the human training set).

    python tools/fit_stain.py TILES... -o target.json [--method macenko|reinhard]

TILES are image files, folders (their images, recursively) or quoted globs.
The JSON is what `StainNormalize(target='target.json', method=...)` reads
(docs/stain.md). A missing or unreadable tile ends the run with one line
naming it (exit 2).
"""
import argparse
import glob
import json
import os
import os.path as osp
import sys

import cv2

from crossspec_mmseg.datasets.transforms import StainTargetError, fit_stain_target
from crossspec_mmseg.utils import atomic_path

IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.tif', '.tiff', '.bmp')


def fail(message: str):
    sys.stderr.write(f'error: {message}\n')
    sys.exit(2)


def tile_paths(specs: list) -> list:
    """The image files that files, folders and globs name, in a stable order."""
    paths = []
    for spec in specs:
        if osp.isdir(spec):
            found = sorted(osp.join(folder, name) for folder, _, names in os.walk(spec)
                           for name in names if name.lower().endswith(IMAGE_EXTENSIONS))
        elif glob.has_magic(spec):
            found = sorted(p for p in glob.glob(spec, recursive=True) if osp.isfile(p))
        elif osp.isfile(spec):
            found = [spec]
        else:
            fail(f'tile {spec} not found')
        if not found:
            fail(f'no images in {spec} (looked for {", ".join(IMAGE_EXTENSIONS)})')
        paths.extend(found)
    return paths


def read_tiles(paths: list):
    """Yield each tile as uint8 BGR, with a progress bar when tqdm is installed."""
    try:
        from tqdm import tqdm
    except ImportError:
        tqdm = None
    bar = tqdm(total=len(paths), desc='tiles', unit='tile') if tqdm else None
    for path in paths:
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        if img is None:
            if bar is not None:
                bar.close()  # end the bar's line before the error
            fail(f'cannot read tile {path} (not an image, or unreadable)')
        if bar is not None:
            bar.update()
        yield img
    if bar is not None:
        bar.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('tiles', nargs='+', help='image files, folders or globs')
    parser.add_argument('-o', '--out', required=True, help='target JSON to write')
    parser.add_argument('--method', choices=('macenko', 'reinhard'), default='macenko')
    parser.add_argument('--io', type=float, default=240.0,
                        help='Macenko background intensity (default 240)')
    args = parser.parse_args()
    paths = tile_paths(args.tiles)
    try:
        target = fit_stain_target(read_tiles(paths), args.method, n_images=len(paths), io=args.io)
    except StainTargetError as err:
        fail(str(err))
    try:
        with atomic_path(args.out) as tmp, open(tmp, 'w') as f:
            json.dump(target, f, indent=2)
    except OSError as err:
        fail(f'cannot write {args.out}: {err}')
    print(f'{args.method} target from {len(paths)} tiles written to {args.out}')


if __name__ == '__main__':
    main()
