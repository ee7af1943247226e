"""Stain maths on uint8 BGR images: HED jitter, Macenko and Reinhard.

Each change of stain is affine in log intensity (HED jitter, Macenko) or in
LAB (Reinhard), so once its matrix is known an image costs a 256-entry lookup
table (uint8 -> log intensity or OD), one 3x4 affine map per pixel
(``cv2.transform``) and an ``exp``. Matrices are built in RGB order and
flipped for OpenCV/MMSeg's BGR images.
"""
from __future__ import annotations

import cv2
import numpy as np

__all__ = ['HED_FROM_RGB', 'RGB_FROM_HED', 'hed_jitter', 'macenko_normalize',
           'macenko_stain_matrix', 'optical_density', 'reinhard_normalize', 'lab_image',
           'stain_concentrations']

#: Ruifrok-Johnston stain vectors (rows: haematoxylin, eosin, DAB) in RGB OD, as
#: scikit-image's ``rgb_from_hed``; ``HED_FROM_RGB`` is its inverse (``hed_from_rgb``).
RGB_FROM_HED = np.array([[0.65, 0.70, 0.29], [0.07, 0.99, 0.11], [0.27, 0.57, 0.78]])
HED_FROM_RGB = np.linalg.inv(RGB_FROM_HED)

#: scikit-image's stain unit: OD = log(I) / log(1e-6), intensity I in [0, 1] floored at 1e-6.
_LOG_FLOOR = np.log(1e-6)
#: ln(max(v / 255, 1e-6)) for each uint8 value v.
_LOG_INTENSITY = np.log(np.maximum(np.arange(256) / 255, 1e-6)).astype(np.float32)


def _bgr_affine(matrix: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """The 3x4 ``cv2.transform`` matrix of ``y = x @ matrix + offset`` (RGB rows
    vectors) acting on BGR pixels."""
    return np.hstack([matrix.T[::-1, ::-1], offset[::-1, None]]).astype(np.float32)


def _exp_to_uint8(log_intensity: np.ndarray) -> np.ndarray:
    """``round(exp(x))`` saturated to uint8 (``x`` already includes ln 255 or ln Io)."""
    return cv2.convertScaleAbs(cv2.exp(log_intensity))


def hed_jitter(img: np.ndarray, alpha: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Scale and shift the H, E and DAB concentrations of a uint8 BGR image.

    The concentrations are scikit-image's ``rgb2hed`` values; each becomes
    ``alpha * c + beta`` and the image is rebuilt as ``hed2rgb`` does. Unlike
    ``rgb2hed``, negative concentrations are not clipped to 0, so
    ``alpha=1, beta=0`` returns the image unchanged.

    Args:
        img: (H, W, 3) uint8 BGR image.
        alpha: 3 multiplicative factors (H, E, DAB).
        beta: 3 additive shifts in scikit-image's stain units.

    Returns:
        The jittered (H, W, 3) uint8 BGR image.
    """
    # ln I' = ln I @ (HED_FROM_RGB diag(alpha) RGB_FROM_HED) + log(1e-6) beta @ RGB_FROM_HED
    matrix = HED_FROM_RGB @ (np.asarray(alpha, float)[:, None] * RGB_FROM_HED)
    offset = _LOG_FLOOR * np.asarray(beta, float) @ RGB_FROM_HED + np.log(255)
    log_intensity = cv2.LUT(img, _LOG_INTENSITY)
    return _exp_to_uint8(cv2.transform(log_intensity, _bgr_affine(matrix, offset)))


def optical_density(img: np.ndarray, io: float) -> np.ndarray:
    """Macenko's OD ``-ln((I + 1) / Io)`` of a uint8 BGR image, (H, W, 3) float32 BGR."""
    table = -np.log((np.arange(256) + 1) / io).astype(np.float32)
    return cv2.LUT(img, table)


def macenko_stain_matrix(od: np.ndarray, alpha: float = 1.0, beta: float = 0.15,
                         min_pixels: int = 200) -> np.ndarray | None:
    """Macenko et al. 2009: the H and E stain vectors of OD pixels.

    Pixels with any OD channel below ``beta`` (background) are left out; the
    rest are projected onto the plane of their two main eigenvectors, and the
    ``alpha`` and ``100 - alpha`` percentiles of their angle give the two
    stains; haematoxylin is the one with the larger red OD.

    Args:
        od: (N, 3) float32 optical densities, BGR order (as images are).
        alpha: percentile of the extreme angles.
        beta: OD threshold of tissue.
        min_pixels: fewest tissue pixels to fit from.

    Returns:
        (2, 3) unit rows H, E in **RGB** order (as targets store them), or
        ``None`` when there are fewer than ``min_pixels`` tissue pixels or the
        two stains are indistinguishable (one stain only).
    """
    tissue = np.compress(np.minimum(np.minimum(od[:, 0], od[:, 1]), od[:, 2]) >= beta, od,
                         axis=0)
    if len(tissue) < max(min_pixels, 3):
        return None
    covariance, _ = cv2.calcCovarMatrix(tissue, None, cv2.COVAR_NORMAL | cv2.COVAR_ROWS,
                                        ctype=cv2.CV_64F)  # float64 sums, unscaled
    _, vectors = np.linalg.eigh(covariance)
    plane = vectors[:, 1:3]
    projected = plane.T.astype(np.float32) @ tissue.T
    angle = np.arctan2(projected[1], projected[0])
    low, high = np.percentile(angle, [alpha, 100 - alpha])
    v_low = plane @ np.array([np.cos(low), np.sin(low)])
    v_high = plane @ np.array([np.cos(high), np.sin(high)])
    stains = np.stack([v_low, v_high] if v_low[2] > v_high[2] else [v_high, v_low])[:, ::-1]
    stains /= np.linalg.norm(stains, axis=1, keepdims=True)
    if abs(stains[0] @ stains[1]) > 0.999:
        return None
    return stains


def stain_concentrations(od: np.ndarray, stain_matrix: np.ndarray) -> np.ndarray:
    """Least-squares (2, N) H and E concentrations of (N, 3) BGR OD pixels
    under (2, 3) RGB stain rows."""
    unmix = np.linalg.pinv(np.asarray(stain_matrix, float)[:, ::-1].T)  # (2, 3), BGR columns
    return unmix.astype(np.float32) @ od.T


def macenko_normalize(img: np.ndarray, stain_matrix: np.ndarray, max_concentrations,
                      io: float = 240.0, alpha: float = 1.0, beta: float = 0.15,
                      min_pixels: int = 200) -> np.ndarray:
    """Restain a uint8 BGR image to a target's stain vectors and 99th-percentile
    concentrations (Macenko et al. 2009).

    The image's own stains come from :func:`macenko_stain_matrix`; its
    concentrations (least squares over all pixels) are scaled so their 99th
    percentiles equal ``max_concentrations``, then recombined with the target
    vectors: ``I = Io exp(-C @ stain_matrix)``, saturated to uint8. An image
    whose stains cannot be estimated (too little tissue, one stain, no
    positive concentrations) is returned unchanged.

    Args:
        img: (H, W, 3) uint8 BGR image.
        stain_matrix: (2, 3) target H, E rows (RGB OD).
        max_concentrations: the target's 99th percentiles of H and E.
        io: background intensity.
        alpha, beta, min_pixels: as in :func:`macenko_stain_matrix`.
    """
    od = optical_density(img, io)
    pixels = od.reshape(-1, 3)
    stains = macenko_stain_matrix(pixels, alpha, beta, min_pixels)
    if stains is None:
        return img
    own_max = np.percentile(stain_concentrations(pixels, stains), 99, axis=1)
    if not (own_max > 0).all():
        return img
    scale = np.asarray(max_concentrations, float) / own_max
    # ln I' = ln Io - OD @ (unmix.T diag(scale) target), all in RGB order
    matrix = -np.linalg.pinv(stains.T).T @ (scale[:, None] * np.asarray(stain_matrix, float))
    return _exp_to_uint8(cv2.transform(od, _bgr_affine(matrix, np.full(3, np.log(io)))))


def lab_image(img: np.ndarray) -> np.ndarray:
    """CIE LAB of a uint8 BGR image, float32 (L in 0..100, as OpenCV on [0, 1] floats)."""
    return cv2.cvtColor(img.astype(np.float32) * np.float32(1 / 255), cv2.COLOR_BGR2LAB)


def reinhard_normalize(img: np.ndarray, mean, std) -> np.ndarray:
    """Reinhard et al. 2001: give a uint8 BGR image the target's per-channel LAB
    mean and standard deviation; a flat channel (std 0) is only shifted."""
    lab = lab_image(img)
    own_mean, own_std = (v.ravel() for v in cv2.meanStdDev(lab))
    scale = np.where(own_std > 1e-6, np.asarray(std, float) / np.maximum(own_std, 1e-6), 1.0)
    affine = np.hstack([np.diag(scale), (np.asarray(mean, float) - scale * own_mean)[:, None]])
    lab = cv2.transform(lab, affine.astype(np.float32))
    return cv2.convertScaleAbs(cv2.cvtColor(lab, cv2.COLOR_LAB2BGR), alpha=255)
