"""MoNuSAC download -> OUT_DIR/{images,masks,instances}/ + manifest.csv.

    python tools/dataset_converters/monusac.py RAW_DIR OUT_DIR [--organs CSV] [--mpp 0.5]
        [--tile 256] [--val-fraction 0.2] [--base-mpp 0.25] [--skip-bad] [--workers N]

RAW_DIR holds "MoNuSAC_images_and_annotations/" and/or "MoNuSAC Testing Data
and Annotations/". Pixels come from the .svs files, nuclei from the .xml
files. masks/ holds MoNuSAC's own type ids (1 epithelial, 2 lymphocyte,
3 neutrophil, 4 macrophage, 255 Ambiguous), instances/ 16-bit ids;
--val-fraction of the training patients (per organ) become split 'val'.
"""

from _cli import _checked, nuclei_kwargs, nuclei_parser, run_converter

from crossspec_mmseg.converters.monusac import convert_monusac


def main():
    parser = nuclei_parser(__doc__, 'folder holding the two MoNuSAC folders',
                           "each SVS's, ~0.25 um/px",
                           val_fraction='training patients (per organ)')
    parser.add_argument('--organs', metavar='CSV',
                        help='table "patient,organ" (TCGA barcodes); without it organ is empty')
    parser.add_argument('--base-mpp', type=_checked(float, lambda v: 0 < v < float('inf'), '> 0'),
                        help='um/px of SVS files whose metadata lacks it')
    args = parser.parse_args()
    run_converter(convert_monusac, args.out_dir, organs_csv=args.organs, base_mpp=args.base_mpp,
                  **nuclei_kwargs(args))

if __name__ == '__main__':
    main()
