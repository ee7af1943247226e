"""Flags and error handling shared by the converter CLIs."""
import sys

from crossspec_mmseg.converters.errors import BadInputError


def add_tiling_args(parser, scale=1.0):
    parser.add_argument('--scale', type=float, default=scale,
                        help='resize factor (tile side = window side * scale)')
    parser.add_argument('--tile', type=int, default=512, help='tile side in pixels')
    parser.add_argument('--overlap', type=float, default=0.5, help='window overlap fraction')
    parser.add_argument('--min-tissue', type=float, default=0.05,
                        help='drop tiles with less tissue (HSV saturation > 40) than this')
    parser.add_argument('--keep-all', action='store_true', help='keep background tiles too')


def tiling_kwargs(args):
    return dict(scale=args.scale, tile=args.tile, overlap=args.overlap,
                min_tissue=0.0 if args.keep_all else args.min_tissue)


def add_skip_bad_arg(parser):
    parser.add_argument('--skip-bad', action='store_true',
                        help='leave out unusable images/slides, list them in OUT_DIR/skipped.csv')


def run_converter(convert, out_dir, **kwargs):
    """Print the summary; a bad input ends the run with its message (exit 1)."""
    try:
        print(convert(out_dir=out_dir, **kwargs))
    except BadInputError as err:
        hint = '' if kwargs.get('skip_bad') else (
            f'; or rerun with --skip-bad to leave bad images/slides out (listed in '
            f'{out_dir}/skipped.csv)')
        sys.exit(f'error: {err}\n(tiles written so far are kept: fix the input and rerun to '
                 f'resume{hint})')
