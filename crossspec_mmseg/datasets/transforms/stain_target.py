"""Stain targets: fitted from reference tiles, stored as a small JSON, checked on load.

A Macenko target holds the H and E optical-density vectors (rows, RGB order)
and their 99th-percentile concentrations; a Reinhard target the LAB mean and
standard deviation; both hold the fitting parameters and how many tiles and
pixels they came from.
"""
from __future__ import annotations

import json
from typing import Iterable

import numpy as np

from .stain_ops import lab_image, macenko_stain_matrix, optical_density, stain_concentrations

__all__ = ['METHODS', 'StainTargetError', 'fit_stain_target', 'load_stain_target']

METHODS = ('macenko', 'reinhard')
#: Macenko fits pool at most this many pixels over all tiles (a random sample of each).
MAX_POOLED_PIXELS = 4_000_000


class StainTargetError(ValueError):
    """A stain target that is missing, malformed or of another method."""


def fit_stain_target(images: Iterable[np.ndarray], method: str = 'macenko', n_images: int = 1,
                     io: float = 240.0, alpha: float = 1.0, beta: float = 0.15,
                     seed: int = 0) -> dict:
    """Fit a stain target to reference images.

    Args:
        images: uint8 BGR images (any sizes).
        method: ``'macenko'`` or ``'reinhard'``.
        n_images: how many ``images`` yields; a Macenko fit samples
            ``MAX_POOLED_PIXELS / n_images`` pixels of each (all when smaller).
        io, alpha, beta: Macenko's background intensity, angle percentile and
            tissue OD threshold (published values by default).
        seed: seed of the pixel sample.

    Returns:
        The target as stored in JSON (see :func:`load_stain_target`).

    Raises:
        StainTargetError: no images, or (Macenko) too little tissue to fit.
    """
    if method not in METHODS:
        raise StainTargetError(f'unknown stain method {method!r} (choose from {METHODS})')
    if method == 'reinhard':
        return _fit_reinhard(images)
    rng = np.random.default_rng(seed)
    per_image = max(1024, MAX_POOLED_PIXELS // max(n_images, 1))
    samples, count = [], 0
    for img in images:
        od = optical_density(img, io).reshape(-1, 3)
        if len(od) > per_image:
            od = od[rng.choice(len(od), per_image, replace=False)]
        samples.append(od)
        count += 1
    if not count:
        raise StainTargetError('no reference images to fit a stain target to')
    od = np.concatenate(samples)
    stains = macenko_stain_matrix(od, alpha, beta)
    if stains is None:
        raise StainTargetError(
            f'too little tissue (OD >= {beta} in every channel) or only one stain in the '
            f'{count} reference images: choose tiles with H&E-stained tissue')
    max_concentrations = np.percentile(stain_concentrations(od, stains), 99, axis=1)
    return dict(method='macenko', stain_matrix=stains.round(6).tolist(),
                max_concentrations=max_concentrations.astype(float).round(6).tolist(),
                io=io, alpha=alpha, beta=beta,
                provenance=dict(n_tiles=count, n_pixels=len(od)))


def _fit_reinhard(images: Iterable[np.ndarray]) -> dict:
    """LAB mean and standard deviation over every pixel of ``images``."""
    total, total_sq, count, tiles = np.zeros(3), np.zeros(3), 0, 0
    for img in images:
        lab = lab_image(img).reshape(-1, 3).astype(np.float64)
        total += lab.sum(axis=0)
        total_sq += (lab ** 2).sum(axis=0)
        count += len(lab)
        tiles += 1
    if not count:
        raise StainTargetError('no reference images to fit a stain target to')
    mean = total / count
    std = np.sqrt(np.maximum(total_sq / count - mean ** 2, 0))
    return dict(method='reinhard', mean=mean.round(6).tolist(), std=std.round(6).tolist(),
                provenance=dict(n_tiles=tiles, n_pixels=count))


#: Optional Macenko parameters of a target and their published values.
MACENKO_DEFAULTS = dict(io=240.0, alpha=1.0, beta=0.15)
#: Required fields of each method: name -> shape.
_FIELDS = {'macenko': dict(stain_matrix=(2, 3), max_concentrations=(2,)),
           'reinhard': dict(mean=(3,), std=(3,))}


def load_stain_target(target: str | dict, method: str) -> dict:
    """Read and check a stain target: a JSON path or the same content as a dict.

    Returns the target with its arrays as float NumPy arrays and, for
    Macenko, ``io``, ``alpha`` and ``beta`` (published values when absent).

    Raises:
        StainTargetError: the file is missing or not JSON, the target is of
            another method, or a field is missing, of the wrong shape or out
            of range; the message names the file.
    """
    if method not in METHODS:
        raise StainTargetError(f'unknown stain method {method!r} (choose from {METHODS})')
    name = 'inline stain target'
    if isinstance(target, str):
        name = f'stain target {target}'
        try:
            with open(target) as f:
                target = json.load(f)
        except FileNotFoundError:
            raise StainTargetError(f'{name} not found: fit one with tools/fit_stain.py TILES... '
                                   f'-o {target} --method {method}') from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise StainTargetError(f'{name} is not a readable JSON file ({err}): refit it with '
                                   'tools/fit_stain.py') from None
    if not isinstance(target, dict):
        raise StainTargetError(f'{name} must be a JSON object, not {type(target).__name__}')
    if target.get('method') != method:
        raise StainTargetError(f'{name} holds method {target.get("method")!r}, not {method!r}: '
                               f'refit it with --method {method} or set method=')
    checked = dict(target)
    for field, shape in _FIELDS[method].items():
        try:
            value = np.asarray(target[field], dtype=float)
        except (KeyError, TypeError, ValueError):
            value = None
        if value is None or value.shape != shape or not np.isfinite(value).all():
            raise StainTargetError(f'{name}: {field!r} must be {"x".join(map(str, shape))} '
                                   'finite numbers; refit it with tools/fit_stain.py')
        checked[field] = value
    if method == 'macenko':
        if not (checked['max_concentrations'] > 0).all():
            raise StainTargetError(f'{name}: max_concentrations must be positive')
        for field, default in MACENKO_DEFAULTS.items():
            value = target.get(field, default)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
                    0 < value < float('inf')):
                raise StainTargetError(f'{name}: {field!r} must be a positive number')
            checked[field] = float(value)
    return checked
