"""Typed nuclei on a slide (issue 26 §5): the typed GeoJSON export (each kept
nucleus's outline traced on pixel edges, plus its feature written) as a
share of the inference it follows (the issue's goal: at most 10 %).
"model" is the time in the model's ``inference``: the network's forward and
the stub's colour-to-logits (the only cost for ``--model none``).

The tile set is nuclei-dense: a synthetic slide (``--side`` px at 0.5 um/px)
packed with nuclei on a jittered grid (``--spacing`` px, radii 4.5-7.5 px:
5-15 um nuclei, many touching), of five types, drawn in the colours a route-a
stub reads back (background, one colour per type, a 1 px boundary), so every
tile's typed contour probabilities are known and dense. The model runs a real
network's forward (``--model``: LR-ASPP MobileNetV3, the cheapest MMSeg model;
DeepLabV3+ R-50-D8, route a's configs; or ``none``: no network, the decoding
alone, the worst case for the share) and returns the stub's probabilities;
``TypedContourWatershed`` decodes them as the segmentor would (on the device's
masks, :mod:`crossspec_mmseg.inference.typed_nuclei`).

Inference = the whole ``infer_slide`` call (reading, forward, decoding,
keeping, painting the type map, writing the mask) less the exports; export
= tracing the kept nuclei's outlines + writing their GeoJSON features
(measured inside the run, ``timings``). The objects CSV and the OME-TIFF
(``--all``) are reported apart. Printed: a Markdown row and the ratio.

    python benchmarks/typed_slide_export.py [--side 2048] [--spacing 14] [--tile 512]
        [--model mobilenetv3|deeplabv3plus|none] [--all]
"""
from __future__ import annotations

import argparse
import os
import os.path as osp
import sys
import tempfile
import time

import numpy as np

MPP = 0.5
#: Stub colours: background, five type leaves of the nucleus tree, boundary.
TYPES = ('normal_epithelial', 'neoplastic_epithelial', 'lymphocyte', 'fibroblast', 'macrophage')
COLOURS = np.array([(230, 150, 200), (255, 128, 0), (200, 0, 0), (0, 160, 0), (100, 60, 0),
                    (0, 0, 200), (40, 0, 80)], np.float32)


def draw_slide(side: int, spacing: int, seed: int = 0):
    """``(rgb, nuclei count)``: jittered grid nuclei of random types."""
    import cv2

    from crossspec_mmseg.converters.nuinsseg import contour_target
    rng = np.random.default_rng(seed)
    ids = np.zeros((side, side), np.int32)
    kinds = [0]
    k = 0
    for y in range(spacing // 2, side, spacing):
        for x in range(spacing // 2, side, spacing):
            jitter = rng.uniform(-spacing / 5, spacing / 5, 2)
            k += 1
            cv2.circle(ids, (int(x + jitter[0]), int(y + jitter[1])),
                       int(round(rng.uniform(4.5, 7.5))), k, -1)
            kinds.append(int(rng.integers(len(TYPES))))
    contour = contour_target(ids, 1)
    rgb = np.empty((side, side, 3), np.uint8)
    rgb[:] = COLOURS[0]
    inside = contour == 1
    rgb[inside] = COLOURS[1 + np.array(kinds)[ids[inside]]]
    rgb[contour == 2] = COLOURS[-1]
    return rgb, len(np.unique(ids)) - 1


class DenseNucleiModel:
    """Route a: a real network's forward (timed, its output discarded) and the
    stub's typed contour logits (10 for the channel of the pixel's colour)."""

    def __init__(self, name: str) -> None:
        import torch
        from mmseg.models import SegDataPreProcessor

        from crossspec_mmseg.structures import LabelTree, TypedContourWatershed
        leaves = LabelTree.build('nucleus').leaves
        self.channel = torch.tensor([0, *(leaves.index(t) for t in TYPES), len(leaves)])
        self.colours = torch.from_numpy(COLOURS)
        self.instance_postprocess = TypedContourWatershed(min_size=10)
        self.data_preprocessor = SegDataPreProcessor(mean=[0, 0, 0], std=[1, 1, 1],
                                                     bgr_to_rgb=True)
        self.net, self.forward_seconds = None, 0.0
        if name != 'none':
            self.net = self._network(name)

    @staticmethod
    def _network(name: str):
        import torch
        from mmengine.config import Config
        from mmengine.registry import init_default_scope
        from mmseg.registry import MODELS
        init_default_scope('mmseg')
        root = osp.join(osp.dirname(osp.abspath(__file__)), '..', 'configs')
        path = dict(mobilenetv3=osp.join(root, '_base_', 'models', 'lraspp_m-v3-d8.py'),
                    deeplabv3plus=osp.join(root, 'nuclei',
                                           'contour_deeplabv3plus_pannuke.py'))[name]
        model = Config.fromfile(path).model
        model.pop('pretrained', None)
        model.backbone.init_cfg = None  # random weights: nothing downloaded
        model.pop('instance_postprocess', None)
        model.type = 'EncoderDecoder'
        model.decode_head.num_classes = 15
        if 'auxiliary_head' in model:
            model.auxiliary_head = None  # not run in inference
        torch.manual_seed(0)  # SyncBN in eval mode runs on the CPU as BN
        return MODELS.build(model).eval()

    def inference(self, inputs, metas):
        import torch
        start = time.perf_counter()
        if self.net is not None:
            x = (inputs - torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1)) / 58.0
            self.net.encode_decode(x, [dict(img_shape=x.shape[-2:], pad_shape=x.shape[-2:])])
        distance = ((inputs[:, None] - self.colours[None, :, :, None, None]) ** 2).sum(2)
        channel = self.channel[distance.argmin(1)]
        logits = torch.nn.functional.one_hot(channel, 15).permute(0, 3, 1, 2).float() * 10
        self.forward_seconds += time.perf_counter() - start  # the network and the stub
        return logits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--side', type=int, default=2048)
    parser.add_argument('--spacing', type=int, default=14)
    parser.add_argument('--tile', type=int, default=512)
    parser.add_argument('--model', choices=['mobilenetv3', 'deeplabv3plus', 'none'],
                        default='mobilenetv3')
    parser.add_argument('--all', action='store_true',
                        help='also the objects CSV and the OME-TIFF (reported apart)')
    args = parser.parse_args()
    sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))
    import torch

    from crossspec_mmseg.demo import write_pyramid
    from crossspec_mmseg.inference import SlideOutputs, TypedNuclei
    from crossspec_mmseg.inference.typed_nuclei import infer_typed_slide
    torch.set_num_threads(os.cpu_count() or 1)
    rgb, drawn = draw_slide(args.side, args.spacing)
    model = DenseNucleiModel(args.model)
    with tempfile.TemporaryDirectory() as tmp, torch.no_grad():
        slide = osp.join(tmp, 'dense.tif')
        write_pyramid(slide, rgb, 'generic', MPP, downsamples=(1,), tile=256,
                      compression='zlib')
        outputs = SlideOutputs(geojson=osp.join(tmp, 'dense.geojson'))
        if args.all:
            outputs.objects_csv = osp.join(tmp, 'dense_objects.csv')
            outputs.ome_tiff = osp.join(tmp, 'dense.ome.tif')
        timings = {}
        result = infer_typed_slide(model, slide, osp.join(tmp, 'dense_types.tif'),
                                   TypedNuclei(), tile=args.tile, overlap=0.5, batch=4,
                                   outputs=outputs, timings=timings)
        geojson_mb = os.path.getsize(outputs.geojson) / 2 ** 20
    inference = result.seconds - result.export_seconds
    export = timings['outlines'] + timings['geojson']
    found = result.nuclei['nuclei']
    print(f'{args.side} x {args.side} px at {MPP} um/px, tile {args.tile}, {result.tiles_run} '
          f'tiles, {drawn} nuclei drawn, {found} found ({found / (args.side * MPP / 1e3) ** 2:.0f}'
          f' per mm^2), model {args.model}, GeoJSON {geojson_mb:.1f} MB')
    print('| model | tiles | nuclei | inference (s) | of which model (s) | outlines (s) | '
          'GeoJSON writing (s) | typed GeoJSON export / inference |')
    print('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
    print(f'| {args.model} | {result.tiles_run} | {found} | {inference:.2f} | '
          f'{model.forward_seconds:.2f} | {timings["outlines"]:.2f} | {timings["geojson"]:.2f} | '
          f'**{100 * export / inference:.1f} %** |')
    if args.all:
        print(f'objects CSV {timings["objects_csv"]:.2f} s '
              f'({100 * timings["objects_csv"] / inference:.1f} %), OME-TIFF '
              f'{timings["ome_tiff"]:.2f} s ({100 * timings["ome_tiff"] / inference:.1f} %)')
    print(f'ratio (typed GeoJSON export / inference): {export / inference:.3f}')


if __name__ == '__main__':
    main()
