"""HuBMAP "Hacking the Kidney" download -> tiles + manifest.csv.

    python tools/dataset_converters/hubmap.py RAW_DIR OUT_DIR [--scale 0.4 | --mpp 1.0]
        [--base-mpp 0.5] [--tile 512] [--overlap 0.5] [--anatomy] [--splits SPLITS.csv]
        [--keep-all] [--skip-bad] [--workers N]

The manifest's `split` column holds `val`/`test` for the held-out slides (the
glomeruli configs' published choice, or `--splits` with columns id,split) and
`train` for the rest; rerunning with other splits only rewrites the manifest.
"""
import argparse

from _cli import (
    add_skip_bad_arg,
    add_tiling_args,
    add_workers_arg,
    run_converter,
    tiling_kwargs,
)

from crossspec_mmseg.converters import convert_hubmap


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('raw_dir', help='folder with train/, train.csv, ...')
    parser.add_argument('out_dir')
    add_tiling_args(parser)
    parser.add_argument('--anatomy', action='store_true',
                        help='also write masks_anatomy/ (0 bg, 1 cortex, 2 medulla)')
    parser.add_argument('--splits', help='CSV with columns id,split (val/test; others train); '
                        'default: the held-out slides of the glomeruli configs')
    add_skip_bad_arg(parser)
    add_workers_arg(parser)
    args = parser.parse_args()
    run_converter(convert_hubmap, args.out_dir, raw_dir=args.raw_dir, anatomy=args.anatomy,
                  skip_bad=args.skip_bad, splits_csv=args.splits, workers=args.workers,
                  **tiling_kwargs(args))


if __name__ == '__main__':
    main()
