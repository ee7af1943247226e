"""Orbit mouse/rat glomeruli slides + orbit.db -> tiles + manifest.csv.

    python tools/dataset_converters/orbit.py RAW_DIR OUT_DIR [--db PATH]
        [--slide-table CSV] [--scale S | --mpp 1.0] [--base-mpp 0.5] [--tile 512]
        [--overlap 0.5] [--keep-all] [--skip-bad] [--workers N]
"""
import argparse

from _cli import (
    add_skip_bad_arg,
    add_tiling_args,
    add_workers_arg,
    run_converter,
    tiling_kwargs,
)

from crossspec_mmseg.converters import SLIDE_TABLE_CSV, convert_orbit


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('raw_dir', help='folder with train/ and test/ slides')
    parser.add_argument('out_dir')
    parser.add_argument('--db', help='orbit.db (default: RAW_DIR/orbit.db)')
    parser.add_argument('--slide-table', '--groups', default=SLIDE_TABLE_CSV,
                        help='CSV raw_data_file_id,stain,species,group (default: the published '
                        'table shipped with the package; --groups is its old name)')
    add_tiling_args(parser)
    add_skip_bad_arg(parser)
    add_workers_arg(parser)
    args = parser.parse_args()
    run_converter(convert_orbit, args.out_dir, raw_dir=args.raw_dir, db=args.db,
                  slide_table=args.slide_table, skip_bad=args.skip_bad, workers=args.workers,
                  **tiling_kwargs(args))


if __name__ == '__main__':
    main()
