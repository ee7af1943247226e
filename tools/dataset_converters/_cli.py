"""Flags and error handling shared by the converter CLIs."""
import argparse
import sys

from crossspec_mmseg.converters.errors import BadDownloadError, BadInputError


def _checked(kind, accept, requirement):
    """argparse type: ``kind(text)`` that satisfies ``accept`` (else one-line usage error)."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f'{text!r} is not a {kind.__name__}') from None
        if not accept(value):
            raise argparse.ArgumentTypeError(f'{text} is out of range ({requirement})')
        return value
    return parse


def add_tiling_args(parser, scale=1.0):
    """The slide converters' tiling and resolution flags (see :func:`tiling_kwargs`)."""
    positive = _checked(float, lambda v: 0 < v < float('inf'), '> 0')
    parser.add_argument('--scale', type=positive, default=scale,
                        help='resize factor (tile side = window side * scale)')
    parser.add_argument('--tile', type=_checked(int, lambda v: v > 0, '> 0'), default=512,
                        help='tile side in pixels')
    parser.add_argument('--overlap', type=_checked(float, lambda v: 0 <= v < 1, '0 <= x < 1'),
                        default=0.5, help='window overlap fraction')
    parser.add_argument('--min-tissue', type=_checked(float, lambda v: 0 <= v <= 1, '0 to 1'),
                        default=0.05,
                        help='drop tiles with less tissue (HSV saturation > 40) than this')
    parser.add_argument('--keep-all', action='store_true', help='keep background tiles too')
    parser.add_argument('--mpp', type=positive,
                        help='target um/px of the tiles (replaces --scale, per slide)')
    parser.add_argument('--base-mpp', type=positive,
                        help="slides' level-0 um/px when their metadata lacks it")


def tiling_kwargs(args):
    return dict(scale=args.scale, tile=args.tile, overlap=args.overlap,
                min_tissue=0.0 if args.keep_all else args.min_tissue, mpp=args.mpp,
                base_mpp=args.base_mpp)


def add_workers_arg(parser):
    parser.add_argument('--workers', type=_checked(int, lambda v: v > 0, '> 0'), default=1,
                        help='slides/images converted at once, in processes (one each); '
                        'the output is the same whatever N')


def add_mpp_arg(parser, native):
    """``--mpp``: the nuclei converters' target um/px (``native``: the download's, as text)."""
    parser.add_argument('--mpp', type=_checked(float, lambda v: 0 < v < float('inf'), '> 0'),
                        help=f'resample each image to this um/px before tiling, instance by '
                        f'instance (default: keep the download\'s, {native})')


def nuclei_parser(doc, raw_help, native_mpp, val_fraction=None):
    """The nuclei converters' CLI: RAW_DIR OUT_DIR [--mpp] [--tile 256] [--skip-bad]
    [--workers]; ``val_fraction``: what ``--val-fraction`` holds out (help text)."""
    parser = argparse.ArgumentParser(description=doc,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('raw_dir', help=raw_help)
    parser.add_argument('out_dir')
    add_mpp_arg(parser, native_mpp)
    parser.add_argument('--tile', type=_checked(int, lambda v: v > 0, '> 0'), default=256,
                        help='tile side in pixels, after --mpp (default 256)')
    if val_fraction:
        parser.add_argument('--val-fraction', default=0.2,
                            type=_checked(float, lambda v: 0 <= v < 1, '0 to <1'),
                            help=f'{val_fraction} held out as split "val" (default 0.2; fixed '
                            'by the names, see docs/datasets.md)')
    add_skip_bad_arg(parser)
    add_workers_arg(parser)
    return parser


def nuclei_kwargs(args):
    """The keywords every nuclei ``convert_*`` takes, from :func:`nuclei_parser`'s args."""
    kwargs = dict(raw_dir=args.raw_dir, mpp=args.mpp, tile=args.tile, skip_bad=args.skip_bad,
                  workers=args.workers)
    if hasattr(args, 'val_fraction'):
        kwargs['val_fraction'] = args.val_fraction
    return kwargs


def add_skip_bad_arg(parser):
    parser.add_argument('--skip-bad', action='store_true',
                        help='leave out unusable images/slides, list them in OUT_DIR/skipped.csv')


def run_converter(convert, out_dir, **kwargs):
    """Print the summary. What a user downloaded or typed wrong ends the run with
    one line naming the file and the fix (exit 1), never a traceback."""
    try:
        print(convert(out_dir=out_dir, **kwargs))
    except BadInputError as err:
        hint = '' if kwargs.get('skip_bad') else (
            f'; or rerun with --skip-bad to leave bad images/slides out (listed in '
            f'{out_dir}/skipped.csv)')
        sys.exit(f'error: {err}\n(tiles written so far are kept: fix the input and rerun to '
                 f'resume{hint})')
    except (BadDownloadError, OSError) as err:  # OSError: e.g. an unwritable output folder
        sys.exit(f'error: {err}')
