"""Predict a whole slide, tile by tile, with a trained checkpoint.

    python tools/infer_slide.py CONFIG CHECKPOINT SLIDE.svs --out OUT.tif [--tile 512]
        [--overlap 0.5] [--mpp 1.25 | --scale 0.4] [--base-mpp 0.5]
        [--blend center|gaussian|mean] [--rle] [--batch N] [--device cpu|cuda]
        [--min-tissue 0.05] [--count-class 1 --min-area 100] [--amp] [--channels-last]
        [--geojson OUT.geojson [--object-type annotation|detection] [--simplify 0.5]]
        [--ome-tiff OUT.ome.tif] [--objects-csv OUT_objects.csv]

Reads the slide (SVS, OME-TIFF, NDPI, generic pyramidal TIFF) at the model's
um/px: --mpp, else the config's `train_mpp` when the slide records its um/px,
else --scale (default 1). Writes the label mask at level-0 size (tiled zlib
TIFF with its um/px, or PNG), and with --rle the Kaggle row `id,predicted` to
OUT.csv (column-major, 1-indexed). Optionally: QuPath-ready GeoJSON (one
polygon per object and class, level-0 pixels), a pyramidal OME-TIFF mask with
its um/px, a per-object CSV (area in um^2, perimeter, centroid, box). Prints
a JSON summary.
"""
import argparse
import csv
import json
import os.path as osp
import sys

import torch
from mmseg.apis import init_model

import crossspec_mmseg  # noqa: F401  (registers components, checkpoint safe globals)
from crossspec_mmseg.errors import BadInputError
from crossspec_mmseg.inference import (
    BLENDS,
    OBJECT_TYPES,
    SlideOutputs,
    check_mask_path,
    infer_slide,
)
from crossspec_mmseg.slides import open_slide
from crossspec_mmseg.utils import atomic_path


def positive(text):
    """argparse type: a float > 0."""
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f'{text} is not > 0')
    return value


def target_mpp(args, train_mpp):
    """--mpp; else the config's ``train_mpp`` when neither --scale was given nor
    the slide's um/px is unknown; else None (read by --scale)."""
    if args.mpp is not None or args.scale is not None or train_mpp is None:
        return args.mpp
    with open_slide(args.slide, args.base_mpp) as reader:
        return float(train_mpp) if reader.mpp else None


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('slide')
    parser.add_argument('--out', required=True, help='mask path (.tif/.tiff/.png)')
    parser.add_argument('--tile', type=int, default=512)
    parser.add_argument('--overlap', type=float, default=0.5)
    resolution = parser.add_mutually_exclusive_group()
    resolution.add_argument('--mpp', type=positive,
                            help="model input um/px (default: the config's train_mpp)")
    resolution.add_argument('--scale', type=positive,
                            help='resize factor used for the training tiles (HuBMAP: 0.4)')
    parser.add_argument('--base-mpp', type=positive,
                        help="the slide's level-0 um/px when its metadata lacks it")
    parser.add_argument('--blend', choices=BLENDS, default='center')
    parser.add_argument('--batch', type=int, default=4)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu',
                        help='default: cuda when a GPU is visible, else cpu')
    parser.add_argument('--min-tissue', type=float, default=0.0,
                        help='skip windows with less tissue (HSV saturation > 40)')
    parser.add_argument('--rle', action='store_true', help='also write OUT.csv (id,predicted)')
    parser.add_argument('--count-class', type=int, help='count components of this class')
    parser.add_argument('--min-area', type=int, default=0)
    parser.add_argument('--amp', action='store_true',
                        help='autocast the forward: bfloat16 on CPU, float16 on GPU')
    parser.add_argument('--channels-last', action='store_true',
                        help='channels-last memory for the model and its inputs')
    parser.add_argument('--geojson', help='objects as QuPath-ready GeoJSON')
    parser.add_argument('--object-type', choices=OBJECT_TYPES, default='annotation',
                        help='QuPath object type of the GeoJSON features')
    parser.add_argument('--simplify', type=float, default=0.5,
                        help='polygon tolerance in level-0 pixels (0: exact outlines)')
    parser.add_argument('--ome-tiff', help='pyramidal OME-TIFF label mask with its um/px')
    parser.add_argument('--objects-csv', help='one row per object (area, perimeter, ...)')
    args = parser.parse_args()
    for what, path in (('config', args.config), ('checkpoint', args.checkpoint),
                       ('slide', args.slide)):
        if not osp.isfile(path):
            sys.exit(f'error: {what} {path} not found')
    try:
        check_mask_path(args.out)
    except ValueError as err:
        sys.exit(f'error: --out {err}')

    model = init_model(args.config, args.checkpoint, device=args.device)
    try:
        mpp = target_mpp(args, model.cfg.get('train_mpp'))
        meta = model.dataset_meta or {}
        outputs = SlideOutputs(geojson=args.geojson, ome_tiff=args.ome_tiff,
                               objects_csv=args.objects_csv, classes=meta.get('classes'),
                               palette=meta.get('palette'), object_type=args.object_type,
                               tolerance=args.simplify)
        result = infer_slide(model, args.slide, args.out, tile=args.tile, overlap=args.overlap,
                             scale=args.scale or 1.0, blend=args.blend, batch=args.batch,
                             min_tissue=args.min_tissue, rle=args.rle,
                             count_class=args.count_class, min_area=args.min_area, mpp=mpp,
                             base_mpp=args.base_mpp, outputs=outputs, amp=args.amp,
                             channels_last=args.channels_last)
    except BadInputError as err:  # a slide the reader cannot use: named, with the reason
        sys.exit(f'error: {err}')
    summary = dict(mask=result.mask_path, shape=list(result.shape), tiles_run=result.tiles_run,
                   tiles_skipped=result.tiles_skipped, count=result.count, read_mpp=mpp,
                   level=result.level, mpp=result.mpp)
    summary.update({k: v for k, v in (('geojson', args.geojson), ('ome_tiff', args.ome_tiff),
                                      ('objects_csv', args.objects_csv)) if v})
    if args.rle:
        rle_path = osp.splitext(args.out)[0] + '.csv'
        with atomic_path(rle_path) as tmp, open(tmp, 'w', newline='') as f:
            writer = csv.writer(f)
            writer.writerow(['id', 'predicted'])
            writer.writerow([osp.splitext(osp.basename(args.slide))[0], result.rle])
        summary['rle'] = rle_path
    print(json.dumps(summary))


if __name__ == '__main__':
    main()
