"""Tiling flags shared by the whole-slide converters."""


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
