"""Data loading: samples/s per core through the MMSeg training pipeline, PNG vs JPEG tiles.

Peer: the same 512 px tiles stored as high-quality JPEG (quality 95) instead of
PNG; masks are PNG in both. One process, one core (``OMP_NUM_THREADS=1``, no
workers), so the figure is per core.

    python benchmarks/dataloading.py [--tiles 64] [--epochs 3]
"""
from __future__ import annotations

import argparse
import os
import os.path as osp
import tempfile
import time

os.environ.setdefault('OMP_NUM_THREADS', '1')

import cv2  # noqa: E402
import numpy as np  # noqa: E402


def write_tiles(root: str, n: int, ext: str) -> None:
    from crossspec_mmseg.datasets import write_manifest
    from crossspec_mmseg.demo import SPECIES_STYLES, render_tissue

    rng = np.random.default_rng(0)
    os.makedirs(osp.join(root, 'images'), exist_ok=True)
    os.makedirs(osp.join(root, 'masks'), exist_ok=True)
    rows = []
    for i in range(n):
        image, instances = render_tissue(rng, SPECIES_STYLES['human'], 512)
        params = [cv2.IMWRITE_JPEG_QUALITY, 95] if ext == '.jpg' else []
        cv2.imwrite(osp.join(root, 'images', f't{i}{ext}'), image[..., ::-1], params)
        cv2.imwrite(osp.join(root, 'masks', f't{i}.png'), (instances > 0).astype(np.uint8))
        rows.append(dict(image=f'images/t{i}{ext}', mask=f'masks/t{i}.png', dataset='bench',
                         species='human', organ='kidney', slide=f't{i}', case=f't{i}',
                         split='train', x=0, y=0, width=512, height=512, scale=1.0))
    write_manifest(osp.join(root, 'manifest.csv'), rows)


def samples_per_second(root: str, epochs: int) -> float:
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS

    import crossspec_mmseg  # noqa: F401

    here = osp.dirname(osp.abspath(__file__))
    cfg = Config.fromfile(osp.join(here, '..', 'configs', '_base_', 'datasets', 'tiles.py'))
    init_default_scope('mmseg')
    dataset = DATASETS.build(dict(type='CrossSpeciesSegDataset', data_root=root,
                                  metainfo=dict(classes=('background', 'nucleus')),
                                  pipeline=cfg.train_pipeline))
    dataset[0]
    start = time.perf_counter()
    for _ in range(epochs):
        for i in range(len(dataset)):
            dataset[i]
    return epochs * len(dataset) / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--tiles', type=int, default=64)
    parser.add_argument('--epochs', type=int, default=3)
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for ext in ('.png', '.jpg'):
            root = osp.join(tmp, ext[1:])
            write_tiles(root, args.tiles, ext)
            size = sum(os.path.getsize(osp.join(root, 'images', f)) for f in os.listdir(
                osp.join(root, 'images'))) / args.tiles / 1024
            results[ext] = (samples_per_second(root, args.epochs), size)
    for ext, (rate, size) in results.items():
        print(f'{ext[1:].upper():>4}: {rate:6.1f} samples/s per core, {size:6.0f} KiB per tile')
    print(f'ratio PNG / JPEG-95 samples/s: {results[".png"][0] / results[".jpg"][0]:.2f}')


if __name__ == '__main__':
    main()
