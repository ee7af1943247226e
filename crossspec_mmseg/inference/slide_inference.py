"""Whole-slide tiled inference with an MMSeg model.

The slide (a path, or a reader already open: any
:class:`~crossspec_mmseg.slides.SlideSource`) is cut into the windows of a
:class:`~crossspec_mmseg.slides.WindowGrid` and read one band of tile rows at
a time (from the coarsest level that is at least as fine as the model's
input) in a background thread, so reading and resizing of the next row
overlap the model's forward pass on this one. Background windows are skipped
by looking them up in a tissue map made once per slide from a low level (a
row of background is not read at all), tiles are resized by ``scale`` and
batched through the model, and the predictions are recombined band by band
(:mod:`.stitching`) at the original resolution into a mask on disk
(:class:`.disk_mask.DiskMask`, in a :func:`.scratch.scratch_folder` that a
later run removes if this one is killed), so only one band of rows is ever
held in memory. Outputs are written atomically: a tiled, compressed TIFF (or
PNG for small slides), and optionally the Kaggle RLE row, the component count
and the outputs of :mod:`.exports` (GeoJSON, pyramidal OME-TIFF, object
table).
"""
from __future__ import annotations

import contextlib
import os
import os.path as osp
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Iterator, List, Optional, Tuple, Union

import cv2
import numpy as np
import tifffile
import torch
import torch.nn.functional as F
from mmseg.structures import SegDataSample
from tqdm import tqdm

from ..slides import (
    SlideSource,
    TissueMap,
    WindowGrid,
    check_positive,
    check_positive_int,
    open_slide,
    rle_encode,
    to_tile,
)
from ..structures import count_components
from ..utils.atomic import atomic_path
from ..utils.upstream import preprocessor_normalizes
from .disk_mask import DiskMask, mask_tiles
from .exports import SlideOutputs, write_outputs
from .scratch import remove_dead_scratch, scratch_folder
from .stitching import MAX_CLASSES, BandAccumulator, channel_argmax

MASK_EXTENSIONS = ('.tif', '.tiff', '.png')

__all__ = ['MASK_EXTENSIONS', 'SlidePrediction', 'TilePredictor', 'amp_dtype', 'channel_argmax',
           'check_mask_path', 'infer_slide']


@dataclass
class SlidePrediction:
    """What :func:`infer_slide` wrote (``mpp``: the mask's um/px when known;
    ``level``: the slide level the tiles were read from; ``seconds``: the whole
    call, of which ``export_seconds`` writing the :class:`SlideOutputs`;
    ``nuclei``: a typed run's per-slide summary, :mod:`.typed_nuclei`)."""

    mask_path: str
    shape: tuple
    tiles_run: int
    tiles_skipped: int
    mpp: Optional[float] = None
    level: int = 0
    rle: Optional[str] = None
    count: Optional[int] = None
    seconds: float = 0.0
    export_seconds: float = 0.0
    nuclei: Optional[dict] = None


class TilePredictor:
    """Runs batches of RGB uint8 tiles ``(N, 3, h, w)`` through a segmentor.

    Preprocessing equals (to float rounding) what the model's
    ``SegDataPreProcessor`` makes of the same images loaded by MMSeg (BGR),
    done on the whole batch into an input buffer reused across batches (a
    fresh tensor per batch costs page faults comparable to a small model's
    forward). On a GPU the batch crosses as uint8 (a quarter of float32's
    bytes): it is first copied into a page-locked (pinned) host buffer, from
    which the host -> device copy runs asynchronously (``non_blocking``: the
    host goes on while the DMA engine copies), and is converted and
    normalised on the device. Preprocessors that pad at test time
    (``test_cfg``), and any other preprocessor class, are called as they are;
    padding is cropped off the logits.

    Args:
        model: The segmentor.
        amp: Run the forward under autocast, in :func:`amp_dtype`'s type.
        channels_last: Convert the model (in place) and inputs to
            channels-last memory, which oneDNN and cuDNN convolutions prefer.
        tta: Flip test-time augmentation: each batch is also predicted
            flipped left-right and top-bottom; the class probabilities
            (softmax, or a sigmoid head's) are flipped back and averaged.
    """

    def __init__(self, model, amp: bool = False, channels_last: bool = False,
                 tta: bool = False) -> None:
        self.model = model
        self.tta = tta
        self.preprocessor = model.data_preprocessor
        self.device = _resolved(torch.device(self.preprocessor.device))
        self.amp_dtype = amp_dtype(self.device) if amp else None
        self.channels_last = channels_last
        if channels_last and isinstance(model, torch.nn.Module):
            model.to(memory_format=torch.channels_last)
        self._buffer: Optional[torch.Tensor] = None
        self._pinned: Optional[torch.Tensor] = None

    def inputs(self, tiles: np.ndarray) -> Tuple[torch.Tensor, List[dict]]:
        """Model inputs and image metas for ``tiles``."""
        pre = self.preprocessor
        n, _, h, w = tiles.shape
        meta = dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w))
        batch = torch.from_numpy(tiles)
        if getattr(pre, 'test_cfg', None) or not hasattr(pre, 'channel_conversion'):
            data = pre(dict(inputs=list(batch.flip(1)),  # BGR, as MMSeg loads images
                            data_samples=[SegDataSample(metainfo=meta) for _ in range(n)]),
                       False)
            return data['inputs'], [s.metainfo for s in data['data_samples']]
        if self.device.type == 'cuda':  # uint8 over the bus, from pinned memory, no wait
            batch = self._pinned_copy(batch).to(self.device, non_blocking=True)
        if not pre.channel_conversion:  # the model was trained on OpenCV's BGR
            batch = batch.flip(1)
        out = self._input_buffer(tiles.shape)
        out.copy_(batch)
        if preprocessor_normalizes(pre):
            out.sub_(pre.mean).div_(pre.std)
        return out, [meta] * n

    def _pinned_copy(self, batch: torch.Tensor) -> torch.Tensor:
        pinned = self._pinned
        if pinned is None or pinned.shape[1:] != batch.shape[1:] or pinned.shape[0] < len(batch):
            pinned = self._pinned = torch.empty(batch.shape, dtype=torch.uint8, pin_memory=True)
        pinned = pinned[:len(batch)]
        pinned.copy_(batch)
        return pinned

    def _input_buffer(self, shape: tuple) -> torch.Tensor:
        buffer = self._buffer
        if buffer is None or buffer.shape[1:] != shape[1:] or buffer.shape[0] < shape[0]:
            buffer = self._buffer = torch.empty(shape, dtype=torch.float32, device=self.device)
        return buffer[:shape[0]]

    @torch.no_grad()
    def __call__(self, tiles: np.ndarray) -> torch.Tensor:
        """Class logits ``(N, C, h, w)`` on the model's device. A sigmoid head's
        single channel ``z`` becomes ``(logit(t), z)`` with the head's
        threshold ``t`` (MMSeg's rule, default 0.3), so the argmax is MMSeg's
        foreground test. With ``tta``, the logits are those of the mean
        probabilities (log-probabilities; a sigmoid head's mean as a logit)."""
        inputs, metas = self.inputs(tiles)
        size = tiles.shape[2:]
        logits = self._forward(inputs, metas, size)
        if self.tta:  # flipped left-right (dim 3) and top-bottom (dim 2), flipped back
            total = _probabilities(logits)
            for dim in (3, 2):
                total += _probabilities(self._forward(_flip(inputs, dim, size), metas,
                                                      size).flip(dim))
            logits = _logits(total / 3)
        if logits.shape[1] == 1:
            t = getattr(getattr(self.model, 'decode_head', None), 'threshold', None) or 0.5
            logits = torch.cat([torch.full_like(logits, float(np.log(t / (1 - t)))), logits], 1)
        if logits.shape[1] > MAX_CLASSES:
            raise ValueError(f'{logits.shape[1]} classes do not fit a uint8 mask')
        return logits

    def _forward(self, inputs: torch.Tensor, metas: List[dict], size: tuple) -> torch.Tensor:
        """float32 logits of the model on ``inputs``, cropped to ``size``."""
        if self.channels_last:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        with torch.autocast(self.device.type, dtype=self.amp_dtype or torch.float32,
                            enabled=self.amp_dtype is not None):
            logits = self.model.inference(inputs, metas)[..., :size[0], :size[1]]
        return logits.float()


def _flip(inputs: torch.Tensor, dim: int, size: tuple) -> torch.Tensor:
    """``inputs`` with the tiles (their first ``size`` pixels) flipped along
    ``dim``; padding a preprocessor added stays at the bottom/right."""
    if tuple(inputs.shape[2:]) == tuple(size):
        return inputs.flip(dim)
    flipped = inputs.clone()
    flipped[..., :size[0], :size[1]] = inputs[..., :size[0], :size[1]].flip(dim)
    return flipped


def _probabilities(logits: torch.Tensor) -> torch.Tensor:
    """Softmax over the classes; a single channel's sigmoid."""
    return logits.sigmoid() if logits.shape[1] == 1 else logits.softmax(1)


def _logits(probabilities: torch.Tensor) -> torch.Tensor:
    """Logits of these probabilities: their log (softmax gives them back), a
    single channel's logit."""
    if probabilities.shape[1] == 1:
        return torch.logit(probabilities, eps=1e-7)
    return probabilities.clamp_min(1e-30).log()


def amp_dtype(device: torch.device) -> torch.dtype:
    """The autocast type for ``device``: bfloat16 on the CPU and on GPUs that
    support it (Ampere and newer: float32's range, no overflow), else float16."""
    device = torch.device(device)
    if device.type == 'cuda':
        with torch.cuda.device(device):
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16


def _resolved(device: torch.device) -> torch.device:
    """``cuda`` -> ``cuda:<current>`` so buffers are compared by their real device."""
    if device.type == 'cuda' and device.index is None:
        return torch.device('cuda', torch.cuda.current_device())
    return device


class _RowReader:
    """Reads tile row ``r`` of ``grid`` as one band at ``level`` and prepares its
    model inputs; windows with less tissue than ``min_tissue`` in ``tissue``
    are left out (a row left out whole is not read)."""

    def __init__(self, reader: SlideSource, grid: WindowGrid, level: int, min_tissue: float,
                 tissue: Optional[TissueMap]) -> None:
        self.reader, self.level = reader, level
        self.xs, self.ys = grid.starts(reader.shape)
        self.window, self.tile, self.min_tissue, self.tissue = (grid.window, grid.tile,
                                                                min_tissue, tissue)
        self.side = reader.level_side(self.window, level)  # the window's side at the level

    def __call__(self, row: int):
        """``(kept column indexes, (n, 3, tile, tile) inputs or None)``."""
        y = self.ys[row]
        keep = [i for i, x in enumerate(self.xs) if self.tissue is None
                or self.tissue.fraction(x, y, self.window, self.window) >= self.min_tissue]
        if not keep:
            return keep, None
        band = self.reader.read(0, y, self.reader.shape[1], self.window, self.level)
        ratio = self.reader.levels[self.level].downsample
        inputs = [to_tile(band[:, int(self.xs[i] / ratio):int(self.xs[i] / ratio) + self.side],
                          self.side, self.tile) for i in keep]
        return keep, np.ascontiguousarray(np.stack(inputs).transpose(0, 3, 1, 2))


#: Bytes of full-resolution class scores upsampled at once (bounds GPU memory).
UPSAMPLE_BYTES = 256 * 2 ** 20


def _tile_predictions(predict: TilePredictor, inputs: np.ndarray, window: int, blend: str,
                      cap: int = UPSAMPLE_BYTES) -> Iterator[Tuple[int, object]]:
    """``(index in the batch, prediction)`` per tile, at full resolution: uint8
    labels ``(window, window)`` (NumPy) for centre blending, else class
    probabilities ``(C, window, window)`` on the model's device.

    The logits are upsampled in chunks of at most ``cap`` bytes of float32
    scores, and each chunk is reduced (argmax or softmax) before the next is
    made: a chunk of labels is freed at once, a chunk of probabilities as soon
    as the caller has blended it, so peak memory is the logits plus about one
    chunk, whatever the batch. Centre labels reach the host in one copy per
    batch.
    """
    scores = predict(inputs)
    per_tile = scores.shape[1] * window * window * 4
    chunk = len(scores) if scores.shape[-1] == window else max(1, cap // per_tile)
    labels = []
    for first in range(0, len(scores), chunk):
        part = scores[first:first + chunk]
        if part.shape[-1] != window:  # back to full resolution
            part = F.interpolate(part, size=(window, window), mode='bilinear',
                                 align_corners=False)
        if blend == 'center':
            labels.append(channel_argmax(part))
            continue
        probabilities = part.softmax(1)
        del part
        for i in range(len(probabilities)):
            yield first + i, probabilities[i]
        del probabilities
    if labels:
        batch = labels[0] if len(labels) == 1 else torch.cat(labels)
        yield from enumerate(batch.cpu().numpy())  # the one device -> host copy of this batch


def check_mask_path(path: str) -> None:
    """Raise ``ValueError`` unless ``path`` ends in a mask format we write."""
    if osp.splitext(path)[1].lower() not in MASK_EXTENSIONS:
        raise ValueError(f'{path}: output must be one of {", ".join(MASK_EXTENSIONS)}')


def infer_slide(model, slide: Union[str, SlideSource], out_path: str, tile: int = 512,
                overlap: float = 0.5, scale: float = 1.0, blend: str = 'center', batch: int = 4,
                min_tissue: float = 0.0, rle: bool = False, count_class: Optional[int] = None,
                min_area: int = 0, mpp: Optional[float] = None,
                base_mpp: Optional[float] = None, outputs: Optional[SlideOutputs] = None,
                amp: bool = False, channels_last: bool = False, tta: bool = False,
                scratch_dir: Optional[str] = None, typed=None) -> SlidePrediction:
    """Predict a whole slide and write its label mask to ``out_path`` (.tif/.tiff/.png).

    Args:
        model: A built MMSeg segmentor in eval mode.
        slide: A path (SVS, OME-TIFF, NDPI, generic TIFF or any layout the
            converters read; other formats through OpenSlide when it is
            installed), or a slide already open (``slides.open_slide``; left
            open).
        out_path: Output mask path (level-0 pixels).
        tile: Model input side; the level-0 window is ``tile / scale``.
        overlap: Window overlap fraction.
        scale: Resize factor (as used for the training tiles, e.g. 0.4).
        blend: ``center`` (default), ``gaussian`` or ``mean``.
        batch: Tiles per forward pass.
        min_tissue: Skip windows with less tissue than this (0: run all), as
            looked up in a :class:`~crossspec_mmseg.slides.TissueMap` made
            once from a low level.
        rle: Also return the Kaggle RLE of the mask (non-zero = foreground).
        count_class: Also count connected components of this class.
        min_area: Smallest component counted.
        mpp: Model input um/px; replaces ``scale`` by ``slide um/px / mpp``.
        base_mpp: The slide's level-0 um/px, overriding its metadata (with a
            path; an open slide has its own).
        outputs: GeoJSON, OME-TIFF and object table to write besides the mask.
        amp, channels_last, tta: Forward pass options (see :class:`TilePredictor`):
            autocast, channels-last memory, flip test-time augmentation.
        scratch_dir: Where the mask is kept while it is made (default: the
            mask's folder); dead runs' leftovers there are removed first.
        typed: A :class:`~.typed_nuclei.TypedNuclei`: the model decides
            nuclei (route a or b of docs/nuclei.md) and the run is
            :func:`~.typed_nuclei.infer_typed_slide` (the mask is the type
            map; typed GeoJSON, table, OME-TIFF and summary).

    Raises:
        ValueError: tile, overlap, scale, mpp, batch or ``out_path`` invalid
            (one line naming it), before any work.
        SlideResolutionError: ``mpp`` given but the slide's um/px unknown.
    """
    if typed is not None:  # hook: nuclei per tile, kept once (typed_nuclei.py)
        from .typed_nuclei import infer_typed_slide
        return infer_typed_slide(model, slide, out_path, typed, tile=tile, overlap=overlap,
                                 scale=scale, blend=blend, batch=batch, min_tissue=min_tissue,
                                 rle=rle, count_class=count_class, min_area=min_area, mpp=mpp,
                                 base_mpp=base_mpp, outputs=outputs, amp=amp,
                                 channels_last=channels_last, tta=tta, scratch_dir=scratch_dir)
    began = time.perf_counter()
    check_mask_path(out_path)
    grid = WindowGrid(tile, overlap, scale)
    check_positive_int('batch', batch)
    if mpp is not None:
        check_positive('mpp', mpp)
    if base_mpp is not None and not isinstance(slide, str):
        raise ValueError('base_mpp applies to a slide path: open_slide(path, base_mpp) for an '
                         'open slide')
    folder = osp.dirname(osp.abspath(out_path))
    scratch_dir = scratch_dir or folder
    run = skipped = 0
    with contextlib.ExitStack() as stack:
        reader = stack.enter_context(open_slide(slide, base_mpp)) if isinstance(slide, str) \
            else slide
        if mpp is not None:
            grid = WindowGrid.from_mpp(tile, overlap, reader.require_mpp(), mpp)
        os.makedirs(folder, exist_ok=True)
        remove_dead_scratch(scratch_dir)
        tmp = stack.enter_context(scratch_folder(scratch_dir, osp.basename(out_path)))
        pool = stack.enter_context(ThreadPoolExecutor(1))
        height, width = reader.shape
        xs, ys = grid.starts(reader.shape)
        window = grid.window
        acc = BandAccumulator(width, height, window, xs, ys, blend)
        predict = TilePredictor(model, amp, channels_last, tta)
        level = grid.level(reader)
        tissue = TissueMap(reader, window) if min_tissue > 0 else None
        read_row = _RowReader(reader, grid, level, min_tissue, tissue)
        upcoming = pool.submit(read_row, 0)
        with DiskMask(osp.join(tmp, 'mask.u8'), (height, width)) as mask:
            try:
                for row in tqdm(range(len(ys)), desc=osp.basename(reader.path), unit='row',
                                disable=None):
                    keep, inputs = upcoming.result()
                    if row + 1 < len(ys):  # read the next row while the model runs on this one
                        upcoming = pool.submit(read_row, row + 1)
                    h = min(window, height - ys[row])
                    for start in range(0, len(keep), batch):
                        for j, pred in _tile_predictions(predict, inputs[start:start + batch],
                                                         window, blend):
                            i = keep[start + j]
                            acc.add(row, i, pred[..., :h, :min(window, width - xs[i])])
                            del pred  # its chunk is freed before the next one is upsampled
                    run += len(keep)
                    skipped += len(xs) - len(keep)
                    for first, band in acc.finish_row(row):
                        mask.write(first, band)
            finally:
                upcoming.cancel()  # an error or Ctrl-C does not wait for one more band
            _write_mask(out_path, mask, reader.mpp)
            exported = time.perf_counter()
            if outputs is not None:
                write_outputs(mask, reader.mpp, outputs)
            result = SlidePrediction(out_path, (height, width), run, skipped, reader.mpp, level,
                                     export_seconds=time.perf_counter() - exported)
            if rle or count_class is not None:  # whole-mask summaries
                labels = mask.rows(0, height)
                result.rle = rle_encode(labels) if rle else None
                if count_class is not None:
                    result.count = count_components(labels == count_class, min_area)
    result.seconds = time.perf_counter() - began
    return result


def _write_mask(path: str, mask: DiskMask, mpp: Optional[float]) -> None:
    """Tiled zlib TIFF (written a band of tiles at a time, with its um/px when
    known) or PNG, atomically."""
    with atomic_path(path) as tmp:
        if osp.splitext(path)[1].lower() == '.png':
            if not cv2.imwrite(tmp, mask.rows(0, mask.shape[0])):
                raise OSError(f'could not write {path}')
        else:
            resolution = dict(resolution=(1e4 / mpp, 1e4 / mpp),
                              resolutionunit='CENTIMETER') if mpp else {}
            tifffile.imwrite(tmp, mask_tiles(mask, 512), shape=mask.shape, dtype=np.uint8,
                             tile=(512, 512), compression='zlib', photometric='minisblack',
                             bigtiff=mask.shape[0] * mask.shape[1] > 2 ** 32 - 2 ** 25,
                             **resolution)  # tiles from a generator: tifffile sees no size
