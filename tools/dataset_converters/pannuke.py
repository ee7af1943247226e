"""PanNuke download -> OUT_DIR/{images,masks,instances}/ + manifest.csv.

    python tools/dataset_converters/pannuke.py RAW_DIR OUT_DIR [--mpp X] [--tile 256]
        [--skip-bad] [--workers N]

RAW_DIR holds "Fold 1/", "Fold 2/", "Fold 3/" as unpacked. Each 256 px patch is
one tile; types 1 neoplastic, 2 inflammatory, 3 connective, 4 dead,
5 epithelial, 255 ignore.
"""

from _cli import nuclei_kwargs, nuclei_parser, run_converter

from crossspec_mmseg.converters.pannuke import PANNUKE_MPP, convert_pannuke


def main():
    args = nuclei_parser(__doc__, 'folder holding the unpacked "Fold k/" folders',
                         f'{PANNUKE_MPP} um/px').parse_args()
    run_converter(convert_pannuke, args.out_dir, **nuclei_kwargs(args))

if __name__ == '__main__':
    main()
