"""NuInsSeg raw download -> OUT_DIR/{images,masks,instances}/ + manifest.csv.

    python tools/dataset_converters/nuinsseg.py RAW_DIR OUT_DIR [--skip-bad] [--contour 2]
        [--workers N] [--mpp X]

``--contour WIDTH`` adds masks_contour/ (0 background, 1 interior, 2 boundary).
``--mpp X`` resamples each image to X um/px first, instance by instance.
"""
import argparse

from _cli import add_mpp_arg, add_skip_bad_arg, add_workers_arg, run_converter

from crossspec_mmseg.converters import convert_nuinsseg
from crossspec_mmseg.converters.nuinsseg import NUINSSEG_MPP


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('raw_dir', help='unpacked NuInsSeg archive (the 31 organ folders)')
    parser.add_argument('out_dir')
    parser.add_argument('--contour', type=int, default=0, metavar='WIDTH',
                        help='also write the 3-class contour target with this boundary width')
    add_mpp_arg(parser, f'~{NUINSSEG_MPP} um/px (40x)')
    add_skip_bad_arg(parser)
    add_workers_arg(parser)
    args = parser.parse_args()
    run_converter(convert_nuinsseg, args.out_dir, raw_dir=args.raw_dir, skip_bad=args.skip_bad,
                  contour=args.contour, workers=args.workers, mpp=args.mpp)


if __name__ == '__main__':
    main()
