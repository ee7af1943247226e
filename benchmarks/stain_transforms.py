"""Time per 512 px tile of the stain transforms against MMSeg's PhotoMetricDistortion.

Peer: ``PhotoMetricDistortion`` with the settings of configs/_base_/datasets/tiles.py
(each of its steps runs with probability 0.5, so its mean over many draws is
the cost a training pipeline pays). Ours: ``RandomHEDJitter`` (prob=1) and
``StainNormalize`` (Macenko, Reinhard; targets fitted to another tile). One
thread, as in a data-loader worker (MMSeg sets ``opencv_num_threads=0``).

    python benchmarks/stain_transforms.py [--size 512] [--tiles 8] [--repeat 25]
"""
import os

os.environ.setdefault('OMP_NUM_THREADS', '1')  # before NumPy loads its BLAS

import argparse  # noqa: E402
import time  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from mmseg.datasets.transforms import PhotoMetricDistortion  # noqa: E402

from crossspec_mmseg.datasets import RandomHEDJitter, StainNormalize  # noqa: E402
from crossspec_mmseg.datasets.transforms import fit_stain_target  # noqa: E402

#: H and E optical-density vectors (RGB), and a second lab's.
STAINS = (np.array([[0.65, 0.70, 0.29], [0.07, 0.99, 0.11]]),
          np.array([[0.55, 0.75, 0.37], [0.20, 0.90, 0.38]]))


def he_tile(size: int, stains: np.ndarray, seed: int) -> np.ndarray:
    """A uint8 BGR H&E-like tile: smooth stain concentrations, 30 % background."""
    rng = np.random.default_rng(seed)
    conc = cv2.GaussianBlur(rng.gamma(2, 0.35, (size, size, 2)).astype(np.float32), (0, 0), 2)
    conc[cv2.GaussianBlur(rng.random((size, size)), (0, 0), 8) < 0.49] = 0
    stains = stains / np.linalg.norm(stains, axis=1, keepdims=True)
    rgb = np.clip(np.round(240 * np.exp(-conc @ stains)), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(rgb[..., ::-1])


def mean_seconds(transform, tiles, repeat: int) -> float:
    """Mean seconds per tile over ``repeat`` passes (after one warm-up pass)."""
    np.random.seed(0)
    for tile in tiles:
        transform(dict(img=tile.copy()))
    inputs = [tile.copy() for _ in range(repeat) for tile in tiles]
    start = time.perf_counter()
    for img in inputs:
        transform(dict(img=img))
    return (time.perf_counter() - start) / len(inputs)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--size', type=int, default=512)
    parser.add_argument('--tiles', type=int, default=8)
    parser.add_argument('--repeat', type=int, default=25)
    args = parser.parse_args()
    cv2.setNumThreads(0)
    tiles = [he_tile(args.size, STAINS[0], seed) for seed in range(args.tiles)]
    reference = [he_tile(args.size, STAINS[1], 100)]
    transforms = {
        'mmseg PhotoMetricDistortion (peer)': PhotoMetricDistortion(
            brightness_delta=16, contrast_range=(0.8, 1.2), saturation_range=(0.8, 1.2),
            hue_delta=8),
        'ours RandomHEDJitter (prob=1)': RandomHEDJitter(prob=1),
        'ours StainNormalize macenko': StainNormalize(fit_stain_target(reference, 'macenko')),
        'ours StainNormalize reinhard': StainNormalize(fit_stain_target(reference, 'reinhard'),
                                                       method='reinhard'),
    }
    print(f'{args.tiles} tiles of {args.size} px, uint8 BGR, {args.repeat} passes, one thread')
    print('| transform | ms per tile | vs PhotoMetricDistortion |\n| --- | ---: | ---: |')
    base = None
    for name, transform in transforms.items():
        seconds = mean_seconds(transform, tiles, args.repeat)
        base = base or seconds
        print(f'| {name} | {seconds * 1000:.2f} | {seconds / base:.2f} |')


if __name__ == '__main__':
    main()
