"""Synthetic H&E-like tissue in two "species", for the demo and the tests.

Nuclei (hematoxylin, purple-blue ellipses) sit on eosin-pink stroma. The two
species differ the way real human and mouse tissue differ at one
magnification: stain hue, nucleus size and nucleus density. Everything is
deterministic for a seed.

:func:`render_tissue` draws one image and its instance map; the tile writer
(:func:`write_demo_tiles`) and, later, the raw-download writers build on it.
"""
from __future__ import annotations

import os
import os.path as osp
from dataclasses import dataclass
from typing import Dict, Sequence, Tuple

import cv2
import numpy as np

from ..datasets.manifest import write_manifest

__all__ = ['TissueStyle', 'SPECIES_STYLES', 'render_tissue', 'write_demo_tiles']


@dataclass(frozen=True)
class TissueStyle:
    """How one species looks: stain colours (RGB), nucleus radii and count."""

    stroma_rgb: Tuple[int, int, int]
    nucleus_rgb: Tuple[int, int, int]
    radius_range: Tuple[float, float]
    count_range: Tuple[int, int]


SPECIES_STYLES: Dict[str, TissueStyle] = {
    # Human: larger, sparser nuclei; pinker eosin.
    'human': TissueStyle(stroma_rgb=(232, 168, 196), nucleus_rgb=(96, 52, 140),
                         radius_range=(6.0, 10.0), count_range=(6, 12)),
    # Mouse: smaller, denser nuclei; bluer, darker haematoxylin.
    'mouse': TissueStyle(stroma_rgb=(214, 160, 210), nucleus_rgb=(62, 48, 132),
                         radius_range=(3.0, 5.5), count_range=(16, 30)),
}


def render_tissue(rng: np.random.Generator, style: TissueStyle,
                  size: int = 128) -> Tuple[np.ndarray, np.ndarray]:
    """Draw one tissue image and its nucleus instance map.

    Args:
        rng: Random generator (the only source of randomness).
        style: Species appearance.
        size: Side of the square image in pixels.

    Returns:
        ``(image, instances)``: uint8 RGB ``(size, size, 3)`` and uint16
        ``(size, size)`` with 0 for background and 1..N for nuclei (later
        nuclei overwrite earlier ones where they overlap).
    """
    stroma = np.array(style.stroma_rgb, np.float32)
    # Low-frequency stain variation plus fibre-like streaks.
    field = cv2.resize(rng.normal(0, 1, (8, 8)).astype(np.float32), (size, size),
                       interpolation=cv2.INTER_CUBIC)
    image = stroma[None, None] + field[..., None] * np.array([10, 14, 8], np.float32)
    streaks = cv2.GaussianBlur(rng.normal(0, 1, (size, size)).astype(np.float32),
                               (0, 0), sigmaX=6, sigmaY=0.8)
    image += streaks[..., None] * np.array([40, 60, 30], np.float32)
    # Unlabelled distractors: pale pink cytoplasm blobs.
    for _ in range(int(rng.integers(2, 6))):
        centre = tuple(int(v) for v in rng.integers(0, size, 2))
        axes = tuple(int(v) for v in rng.integers(size // 16, size // 6, 2))
        cv2.ellipse(image, centre, axes, float(rng.uniform(0, 180)), 0, 360,
                    tuple(float(v) - 25 for v in style.stroma_rgb), -1)

    instances = np.zeros((size, size), np.uint16)
    nucleus = np.array(style.nucleus_rgb, np.float32)
    for label in range(1, int(rng.integers(*style.count_range)) + 1):
        centre = tuple(int(v) for v in rng.integers(0, size, 2))
        r = rng.uniform(*style.radius_range)
        axes = (max(1, int(round(r))), max(1, int(round(r * rng.uniform(0.6, 1.0)))))
        angle = float(rng.uniform(0, 180))
        blob = np.zeros((size, size), np.uint8)
        cv2.ellipse(blob, centre, axes, angle, 0, 360, 1, -1)
        inside = blob.astype(bool)
        instances[inside] = label
        shade = nucleus * rng.uniform(0.85, 1.15)
        image[inside] = shade + rng.normal(0, 12, (int(inside.sum()), 3))

    image = cv2.GaussianBlur(image, (3, 3), 0.8)
    image += rng.normal(0, 4, image.shape).astype(np.float32)
    return np.clip(image, 0, 255).astype(np.uint8), instances


def _split_for(index: int, n: int, fractions: Sequence[float]) -> str:
    """train/val/test by position; with 3+ tiles every split gets at least one."""
    least = 1 if n >= 3 else 0
    n_val = max(least, round(n * fractions[1]))
    n_test = max(least, round(n * fractions[2]))
    train_end = n - n_val - n_test
    return 'train' if index < train_end else 'val' if index < train_end + n_val else 'test'


def write_demo_tiles(out_dir: str, counts: Dict[str, int] | None = None,
                     size: int = 128, seed: int = 0,
                     split_fractions: Sequence[float] = (0.7, 0.1, 0.2)) -> str:
    """Write a converted-layout dataset: ``images/``, ``masks/``, ``manifest.csv``.

    Args:
        out_dir: Output folder (created).
        counts: Tiles per species, e.g. ``{'human': 12, 'mouse': 40}``
            (default: scarce human, plentiful mouse, as in NuInsSeg kidney).
        size: Tile side in pixels.
        seed: Seed; the same seed writes identical files.
        split_fractions: Fractions for train/val/test within each species.

    Returns:
        Path of the written manifest.
    """
    counts = counts or {'human': 24, 'mouse': 72}
    rng = np.random.default_rng(seed)
    for sub in ('images', 'masks'):
        os.makedirs(osp.join(out_dir, sub), exist_ok=True)
    rows = []
    for species, n in counts.items():
        style = SPECIES_STYLES[species]
        for i in range(n):
            image, instances = render_tissue(rng, style, size)
            stem = f'{species}_demo_{i}'
            image_rel, mask_rel = f'images/{stem}.png', f'masks/{stem}.png'
            cv2.imwrite(osp.join(out_dir, image_rel), image[..., ::-1])
            cv2.imwrite(osp.join(out_dir, mask_rel), (instances > 0).astype(np.uint8))
            rows.append(dict(image=image_rel, mask=mask_rel, dataset='demo',
                             species=species, organ='tissue', slide=stem, group=stem,
                             split=_split_for(i, n, split_fractions), x=0, y=0,
                             width=size, height=size, scale=1.0))
    manifest = osp.join(out_dir, 'manifest.csv')
    write_manifest(manifest, rows)
    return manifest
