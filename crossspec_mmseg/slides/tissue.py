"""The background test: how much of a window is stained tissue."""
import cv2
import numpy as np

__all__ = ['tissue_fraction']


def tissue_fraction(rgb: np.ndarray, saturation_threshold: int = 40) -> float:
    """Fraction of pixels whose HSV saturation exceeds the threshold (the
    Kaggle HuBMAP background test)."""
    saturation = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)[..., 1]
    return float((saturation > saturation_threshold).mean())
