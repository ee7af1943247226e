"""Lizard or CoNIC download -> OUT_DIR/{images,masks,instances}/ + manifest.csv.

    python tools/dataset_converters/lizard.py RAW_DIR OUT_DIR [--mpp X] [--tile 256]
        [--skip-bad] [--workers N]

RAW_DIR is either unpacked Lizard (Lizard_Images1/, Lizard_Images2/,
Lizard_Labels/Labels/*.mat, Lizard_Labels/info.csv) or the CoNIC release
(images.npy, labels.npy, patch_info.csv); which one is detected. Types
1 neutrophil, 2 epithelial, 3 lymphocyte, 4 plasma, 5 eosinophil,
6 connective, 255 ignore.
"""

from _cli import nuclei_kwargs, nuclei_parser, run_converter

from crossspec_mmseg.converters.lizard import LIZARD_MPP, convert_lizard


def main():
    args = nuclei_parser(__doc__, 'unpacked Lizard archives, or the CoNIC release folder',
                         f'{LIZARD_MPP} um/px').parse_args()
    run_converter(convert_lizard, args.out_dir, **nuclei_kwargs(args))

if __name__ == '__main__':
    main()
