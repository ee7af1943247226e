"""Stain transforms for MMSeg pipelines: HED jitter (train) and stain
normalisation (train and test). Both take and return ``results['img']`` as
uint8 BGR, as ``LoadImageFromFile`` loads it."""
from __future__ import annotations

import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness
from mmseg.registry import TRANSFORMS

from .stain_ops import hed_jitter, macenko_normalize, reinhard_normalize
from .stain_target import load_stain_target

__all__ = ['RandomHEDJitter', 'StainNormalize']


def bgr_uint8(results: dict, transform: str) -> np.ndarray:
    """``results['img']``, refused unless it is an (H, W, 3) uint8 image."""
    img = results['img']
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f'{transform} needs a uint8 BGR image (LoadImageFromFile with '
                         f'color_type="color"), got {img.dtype} {img.shape} for '
                         f'{results.get("img_path", "an image")}: put it before any '
                         'normalisation or conversion to float')
    return img


@TRANSFORMS.register_module()
class RandomHEDJitter(BaseTransform):
    """Perturb haematoxylin, eosin and DAB (Tellez et al. 2018).

    With probability ``prob``, each concentration ``c`` (scikit-image's
    ``rgb2hed`` units) becomes ``alpha * c + beta``, ``alpha ~ U(1 - sigma,
    1 + sigma)`` and ``beta ~ U(-bias, bias)`` drawn per stain from NumPy's
    global generator (seeded by mmengine's ``set_random_seed``).

    Required keys: ``img`` (uint8 BGR). Modified keys: ``img``.

    Args:
        sigma: half-width of the scale range.
        bias: half-width of the shift range (0.01 moves a white pixel to
            about 232 in red and green).
        prob: probability of jittering an image.
    """

    def __init__(self, sigma: float = 0.05, bias: float = 0.01, prob: float = 0.5):
        if sigma < 0 or bias < 0 or not 0 <= prob <= 1:
            raise ValueError(f'RandomHEDJitter needs sigma >= 0, bias >= 0 and 0 <= prob <= 1, '
                             f'got sigma={sigma}, bias={bias}, prob={prob}')
        self.sigma, self.bias, self.prob = sigma, bias, prob

    @cache_randomness
    def draw(self) -> tuple[np.ndarray, np.ndarray] | None:
        """``(alpha, beta)`` for the next image, or ``None`` to leave it as is."""
        if np.random.rand() >= self.prob:
            return None
        alpha = np.random.uniform(1 - self.sigma, 1 + self.sigma, 3)
        beta = np.random.uniform(-self.bias, self.bias, 3)
        return alpha, beta

    def transform(self, results: dict) -> dict:
        params = self.draw()
        if params is not None:
            results['img'] = hed_jitter(bgr_uint8(results, 'RandomHEDJitter'), *params)
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(sigma={self.sigma}, bias={self.bias}, prob={self.prob})'


@TRANSFORMS.register_module()
class StainNormalize(BaseTransform):
    """Normalise an image's stain to a target fitted by ``tools/fit_stain.py``.

    ``'macenko'`` (Macenko et al. 2009) restains with the target's H and E
    vectors and concentration scale; an image with fewer than
    ``min_tissue_pixels`` tissue pixels (OD >= beta in every channel), or
    with a single stain, is left unchanged. ``'reinhard'`` (Reinhard et al.
    2001) matches the per-channel LAB mean and standard deviation.

    Required keys: ``img`` (uint8 BGR). Modified keys: ``img``.

    Args:
        target: path of the target JSON (read once, here) or its content as a dict.
        method: ``'macenko'`` or ``'reinhard'``; must be the target's.
        min_tissue_pixels: Macenko: fewest tissue pixels to estimate stains from.
    """

    def __init__(self, target: str | dict, method: str = 'macenko',
                 min_tissue_pixels: int = 200):
        self.target = load_stain_target(target, method)
        self.method = method
        self.min_tissue_pixels = min_tissue_pixels
        self.source = target if isinstance(target, str) else 'inline'

    def transform(self, results: dict) -> dict:
        img, target = bgr_uint8(results, 'StainNormalize'), self.target
        if self.method == 'reinhard':
            results['img'] = reinhard_normalize(img, target['mean'], target['std'])
        else:
            results['img'] = macenko_normalize(
                img, target['stain_matrix'], target['max_concentrations'], io=target['io'],
                alpha=target['alpha'], beta=target['beta'], min_pixels=self.min_tissue_pixels)
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(target={self.source!r}, method={self.method!r})'
