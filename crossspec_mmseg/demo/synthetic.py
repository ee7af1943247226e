"""Synthetic H&E-like tissue in two "species", for the demo and the tests.

Nuclei (hematoxylin, purple-blue ellipses) sit on eosin-pink stroma among
unlabelled distractors: pale cytoplasm and dark-red erythrocytes. The two
species differ the way real human and mouse tissue differ at one
magnification: stain hue, nucleus size and nucleus density. Within a species
every image also gets its own stain strength (optical densities scaled per
channel, as slides from different labs and days differ) and focus (blur), so a
model trained on a handful of images meets stains and blur it has not seen.
Everything is deterministic for a seed.

:func:`render_tissue` draws one image and its instance map; the synthetic
raw downloads (:mod:`.raw_downloads`) are built from it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Tuple

import cv2
import numpy as np

__all__ = ['TissueStyle', 'SPECIES_STYLES', 'render_tissue']

_ERYTHROCYTE_RGB = (176, 40, 64)


@dataclass(frozen=True)
class TissueStyle:
    """How one species looks.

    Attributes:
        stroma_rgb, nucleus_rgb: Mean stain colours (RGB).
        radius_range: Nucleus radii (px).
        count_range: Nuclei per 128 px image (scaled with the area).
        stain_jitter: Per-image relative change of each channel's optical
            density, drawn from ``U(1 - j, 1 + j)`` separately for
            hematoxylin (nuclei) and eosin (stroma).
        blur_range: Per-image Gaussian blur sigma (px).
        erythrocyte_range: Dark-red distractors per 128 px image.
    """

    stroma_rgb: Tuple[int, int, int]
    nucleus_rgb: Tuple[int, int, int]
    radius_range: Tuple[float, float]
    count_range: Tuple[int, int]
    stain_jitter: float = 0.0
    blur_range: Tuple[float, float] = (0.8, 0.8)
    erythrocyte_range: Tuple[int, int] = (0, 1)


SPECIES_STYLES: Dict[str, TissueStyle] = {
    # Human: larger, sparser nuclei; pinker eosin.
    'human': TissueStyle(stroma_rgb=(232, 168, 196), nucleus_rgb=(96, 52, 140),
                         radius_range=(6.0, 10.0), count_range=(6, 12), stain_jitter=0.45,
                         blur_range=(0.6, 2.2), erythrocyte_range=(2, 8)),
    # Mouse: smaller, denser nuclei; bluer, darker haematoxylin.
    'mouse': TissueStyle(stroma_rgb=(214, 160, 210), nucleus_rgb=(62, 48, 132),
                         radius_range=(3.0, 5.5), count_range=(16, 30), stain_jitter=0.45,
                         blur_range=(0.6, 2.2), erythrocyte_range=(2, 8)),
}


def _restain(rgb: Tuple[int, int, int], factors: np.ndarray) -> np.ndarray:
    """``rgb`` with its optical densities scaled by ``factors`` (per channel)."""
    density = -np.log(np.maximum(np.asarray(rgb, np.float64), 1.0) / 255.0)
    return (255.0 * np.exp(-density * factors)).astype(np.float32)


def _ellipse_mask(rng: np.random.Generator, size: int, radius: float) -> np.ndarray:
    centre = tuple(int(v) for v in rng.integers(0, size, 2))
    axes = (max(1, int(round(radius))), max(1, int(round(radius * rng.uniform(0.6, 1.0)))))
    blob = np.zeros((size, size), np.uint8)
    cv2.ellipse(blob, centre, axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
    return blob.astype(bool)


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
    j = style.stain_jitter
    stroma = _restain(style.stroma_rgb, rng.uniform(1 - j, 1 + j, 3))
    nucleus = _restain(style.nucleus_rgb, rng.uniform(1 - j, 1 + j, 3))
    per_area = (size / 128) ** 2
    # Low-frequency stain variation plus fibre-like streaks.
    field = cv2.resize(rng.normal(0, 1, (8, 8)).astype(np.float32), (size, size),
                       interpolation=cv2.INTER_CUBIC)
    image = stroma[None, None] + field[..., None] * np.array([10, 14, 8], np.float32)
    streaks = cv2.GaussianBlur(rng.normal(0, 1, (size, size)).astype(np.float32),
                               (0, 0), sigmaX=6, sigmaY=0.8)
    image += streaks[..., None] * np.array([40, 60, 30], np.float32)
    # Unlabelled distractors: pale cytoplasm blobs, then small dark-red erythrocytes.
    for _ in range(int(rng.integers(2, 6))):
        centre = tuple(int(v) for v in rng.integers(0, size, 2))
        axes = tuple(int(v) for v in rng.integers(size // 16, size // 6, 2))
        cv2.ellipse(image, centre, axes, float(rng.uniform(0, 180)), 0, 360,
                    tuple(float(v) - 25 for v in stroma), -1)
    erythrocyte = _restain(_ERYTHROCYTE_RGB, rng.uniform(1 - j, 1 + j, 3))
    for _ in range(int(round(rng.integers(*style.erythrocyte_range) * per_area))):
        inside = _ellipse_mask(rng, size, rng.uniform(3.0, 4.5))
        image[inside] = erythrocyte + rng.normal(0, 8, (int(inside.sum()), 3))

    instances = np.zeros((size, size), np.uint16)
    count = int(round(rng.integers(*style.count_range) * per_area))
    for label in range(1, count + 1):
        inside = _ellipse_mask(rng, size, rng.uniform(*style.radius_range))
        instances[inside] = label
        shade = nucleus * rng.uniform(0.85, 1.15)
        image[inside] = shade + rng.normal(0, 12, (int(inside.sum()), 3))

    image = cv2.GaussianBlur(image, (0, 0), float(rng.uniform(*style.blur_range)))
    image += rng.normal(0, 4, image.shape).astype(np.float32)
    return np.clip(image, 0, 255).astype(np.uint8), instances
