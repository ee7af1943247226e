"""Synthetic H&E-like tissue in two "species", for the demo and the tests.

Nuclei (hematoxylin, purple-blue ellipses) sit on eosin-pink stroma. The two
species differ the way real human and mouse tissue differ at one
magnification: stain hue, nucleus size and nucleus density. Everything is
deterministic for a seed.

:func:`render_tissue` draws one image and its instance map; the synthetic
raw downloads (:mod:`.raw_downloads`) are built from it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Tuple

import cv2
import numpy as np

__all__ = ['TissueStyle', 'SPECIES_STYLES', 'render_tissue']


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
