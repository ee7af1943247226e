"""Write a synthetic NuInsSeg-format download with two species (the demo's raw data).

    python tools/make_demo_data.py data/demo/raw [--human 20 --mouse 80 --size 128 --seed 0]

Human is scarce and mouse plentiful (NuInsSeg kidney has 11 human and 40 mouse images).

Convert it like the real archive:
    python tools/dataset_converters/nuinsseg.py data/demo/raw data/demo/nuinsseg
"""
import argparse

from crossspec_mmseg.demo import write_nuinsseg_raw


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('out_dir')
    parser.add_argument('--human', type=int, default=20, help='human kidney images')
    parser.add_argument('--mouse', type=int, default=80, help='mouse kidney images')
    parser.add_argument('--size', type=int, default=128, help='image side (px)')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    write_nuinsseg_raw(args.out_dir, {'human kidney': args.human, 'mouse kidney': args.mouse},
                       size=args.size, seed=args.seed)
    print(f'wrote {args.human} human + {args.mouse} mouse kidney images to {args.out_dir}')


if __name__ == '__main__':
    main()
