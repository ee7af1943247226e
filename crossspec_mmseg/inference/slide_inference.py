"""Whole-slide tiled inference with an MMSeg model.

The slide is read window by window (the converters' :class:`SlideReader`),
background windows are skipped by the tissue test, tiles are resized by
``scale`` and batched through the model, and the class probabilities are
recombined band by band (:mod:`.stitching`) at the original resolution into a
disk-backed mask, so only one band of rows is ever held in memory. Outputs are
written atomically: a tiled, compressed TIFF (or PNG for small slides), and
optionally the Kaggle RLE row and the component count.
"""
from __future__ import annotations

import os
import os.path as osp
import tempfile
from dataclasses import dataclass
from typing import List, Optional

import cv2
import numpy as np
import tifffile
import torch
from mmseg.structures import SegDataSample
from tqdm import tqdm

from ..converters.rle import rle_encode
from ..converters.slide_reader import SlideReader
from ..converters.tiling import pad_square, resize_square, tissue_fraction, window_positions
from ..evaluation.group_iou_metric import count_components
from ..utils.atomic import atomic_path
from .stitching import BandAccumulator

__all__ = ['SlidePrediction', 'predict_tiles', 'infer_slide']


@dataclass
class SlidePrediction:
    """What :func:`infer_slide` wrote."""

    mask_path: str
    shape: tuple
    tiles_run: int
    tiles_skipped: int
    rle: Optional[str] = None
    count: Optional[int] = None


@torch.no_grad()
def predict_tiles(model, tiles: List[np.ndarray]) -> np.ndarray:
    """Class probabilities ``(N, C, h, w)`` of RGB uint8 tiles (same size)."""
    h, w = tiles[0].shape[:2]
    meta = dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w))
    data = dict(inputs=[torch.from_numpy(np.ascontiguousarray(t[..., ::-1])).permute(2, 0, 1)
                        for t in tiles],  # BGR, as LoadImageFromFile gives MMSeg
                data_samples=[SegDataSample(metainfo=meta) for _ in tiles])
    data = model.data_preprocessor(data, False)
    logits = model.inference(data['inputs'], [s.metainfo for s in data['data_samples']])
    if logits.shape[1] == 1:  # sigmoid head
        fg = logits.sigmoid()
        return torch.cat([1 - fg, fg], 1).float().cpu().numpy()
    return logits.softmax(1).float().cpu().numpy()


def infer_slide(model, slide: str, out_path: str, tile: int = 512, overlap: float = 0.5,
                scale: float = 1.0, blend: str = 'center', batch: int = 4,
                min_tissue: float = 0.0, rle: bool = False, count_class: Optional[int] = None,
                min_area: int = 0) -> SlidePrediction:
    """Predict a whole slide and write its label mask to ``out_path`` (.tif/.tiff/.png).

    Args:
        model: A built MMSeg segmentor in eval mode.
        slide: TIFF slide (any layout the converters read).
        out_path: Output mask path.
        tile: Model input side; the full-resolution window is ``tile / scale``.
        overlap: Window overlap fraction.
        scale: Resize factor (as used for the training tiles, e.g. 0.4).
        blend: ``center`` (default), ``gaussian`` or ``mean``.
        batch: Tiles per forward pass.
        min_tissue: Skip windows with less tissue than this (0: run all).
        rle: Also return the Kaggle RLE of the mask (non-zero = foreground).
        count_class: Also count connected components of this class.
        min_area: Smallest component counted.
    """
    os.makedirs(osp.dirname(osp.abspath(out_path)), exist_ok=True)
    window = max(1, round(tile / scale))
    stride = max(1, round(window * (1 - overlap)))
    run = skipped = 0
    with SlideReader(slide) as reader, tempfile.TemporaryDirectory(
            dir=osp.dirname(osp.abspath(out_path))) as tmp:
        height, width = reader.shape
        xs, ys = window_positions(width, window, stride), window_positions(height, window, stride)
        mask = np.lib.format.open_memmap(osp.join(tmp, 'mask.npy'), 'w+', np.uint8,
                                         (height, width))
        acc = None
        for row, y in enumerate(tqdm(ys, desc=osp.basename(slide), unit='row', disable=None)):
            windows = [reader.read(x, y, window, window) for x in xs]
            keep = [i for i, w in enumerate(windows)
                    if min_tissue <= 0 or tissue_fraction(w) >= min_tissue]
            skipped += len(windows) - len(keep)
            probs: List[Optional[np.ndarray]] = [None] * len(windows)
            for start in range(0, len(keep), batch):
                chunk = keep[start:start + batch]
                inputs = [resize_square(pad_square(windows[i], window, 0), tile, cv2.INTER_AREA)
                          for i in chunk]
                for i, p in zip(chunk, predict_tiles(model, inputs)):
                    h, w = windows[i].shape[:2]
                    if window != tile:  # back to full resolution
                        p = cv2.resize(p.transpose(1, 2, 0), (window, window),
                                       interpolation=cv2.INTER_LINEAR).reshape(
                                           window, window, -1).transpose(2, 0, 1)
                    probs[i] = p[:, :h, :w]
                run += len(chunk)
            if acc is None:
                acc = BandAccumulator(width, height, next(
                    (p.shape[0] for p in probs if p is not None), 2), window, xs, ys, blend)
            for first, band in acc.add_row(row, probs):
                mask[first:first + band.shape[0]] = band
        mask.flush()
        _write_mask(out_path, mask)
        result = SlidePrediction(out_path, (height, width), run, skipped)
        if rle:
            result.rle = rle_encode(mask)
        if count_class is not None:
            result.count = count_components(np.asarray(mask) == count_class, min_area)
        del mask
    return result


def _write_mask(path: str, mask: np.ndarray) -> None:
    """Tiled zlib TIFF (read in tiles from the memmap) or PNG, atomically."""
    ext = osp.splitext(path)[1].lower()
    with atomic_path(path) as tmp:
        if ext in ('.tif', '.tiff'):
            tifffile.imwrite(tmp, mask, tile=(512, 512), compression='zlib',
                             photometric='minisblack')
        elif ext == '.png':
            if not cv2.imwrite(tmp, np.asarray(mask)):
                raise OSError(f'could not write {path}')
        else:
            raise ValueError(f'{path}: output must be .tif, .tiff or .png')
