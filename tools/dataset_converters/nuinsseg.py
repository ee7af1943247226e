"""NuInsSeg raw download -> OUT_DIR/{images,masks}/ + manifest.csv.

    python tools/dataset_converters/nuinsseg.py RAW_DIR OUT_DIR
"""
import argparse

from crossspec_mmseg.converters import convert_nuinsseg


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('raw_dir', help='unpacked NuInsSeg archive (the 31 organ folders)')
    parser.add_argument('out_dir')
    args = parser.parse_args()
    print(convert_nuinsseg(args.raw_dir, args.out_dir))


if __name__ == '__main__':
    main()
