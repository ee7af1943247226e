"""Predict a whole slide, tile by tile, with a trained checkpoint.

    python tools/infer_slide.py CONFIG CHECKPOINT SLIDE.tiff --out OUT.tif [--tile 512]
        [--overlap 0.5] [--scale 0.4] [--blend center|gaussian|mean] [--rle] [--batch N]
        [--device cpu|cuda] [--min-tissue 0.05] [--count-class 1 --min-area 100]

Writes the label mask (tiled zlib TIFF, or PNG), and with --rle the Kaggle row
`id,predicted` to OUT.csv (column-major, 1-indexed); prints a JSON summary.
"""
import argparse
import csv
import json
import os.path as osp
import sys

import torch
from mmseg.apis import init_model

import crossspec_mmseg  # noqa: F401  (registers components, checkpoint safe globals)
from crossspec_mmseg.converters.errors import BadInputError
from crossspec_mmseg.inference import BLENDS, check_mask_path, infer_slide
from crossspec_mmseg.utils import atomic_path


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('slide')
    parser.add_argument('--out', required=True, help='mask path (.tif/.tiff/.png)')
    parser.add_argument('--tile', type=int, default=512)
    parser.add_argument('--overlap', type=float, default=0.5)
    parser.add_argument('--scale', type=float, default=1.0,
                        help='resize factor used for the training tiles (HuBMAP: 0.4)')
    parser.add_argument('--blend', choices=BLENDS, default='center')
    parser.add_argument('--batch', type=int, default=4)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu',
                        help='default: cuda when a GPU is visible, else cpu')
    parser.add_argument('--min-tissue', type=float, default=0.0,
                        help='skip windows with less tissue (HSV saturation > 40)')
    parser.add_argument('--rle', action='store_true', help='also write OUT.csv (id,predicted)')
    parser.add_argument('--count-class', type=int, help='count components of this class')
    parser.add_argument('--min-area', type=int, default=0)
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
        result = infer_slide(model, args.slide, args.out, tile=args.tile, overlap=args.overlap,
                             scale=args.scale, blend=args.blend, batch=args.batch,
                             min_tissue=args.min_tissue, rle=args.rle,
                             count_class=args.count_class, min_area=args.min_area)
    except BadInputError as err:  # a slide the reader cannot use: named, with the reason
        sys.exit(f'error: {err}')
    summary = dict(mask=result.mask_path, shape=list(result.shape), tiles_run=result.tiles_run,
                   tiles_skipped=result.tiles_skipped, count=result.count)
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
