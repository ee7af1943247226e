"""CoNSeP download -> OUT_DIR/{images,masks,instances}/ + manifest.csv.

    python tools/dataset_converters/consep.py RAW_DIR OUT_DIR [--mpp 0.5] [--tile 256]
        [--val-fraction 0.2] [--skip-bad] [--workers N]

RAW_DIR holds Train/ and Test/ (Images/*.png, Labels/*.mat). masks/ holds
CoNSeP's own type ids (1 other ... 7 endothelial, 255 ignore), instances/
16-bit ids; --val-fraction of the Train/ images become split 'val'.
"""

from _cli import nuclei_kwargs, nuclei_parser, run_converter

from crossspec_mmseg.converters.consep import CONSEP_MPP, convert_consep


def main():
    args = nuclei_parser(__doc__, 'unpacked CoNSeP folder (Train/, Test/)', f'{CONSEP_MPP} um/px',
                         val_fraction='part of Train/ (by image)').parse_args()
    run_converter(convert_consep, args.out_dir, **nuclei_kwargs(args))

if __name__ == '__main__':
    main()
