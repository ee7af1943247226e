"""Write the synthetic two-species demo dataset (tiles + manifest.csv).

    python tools/make_demo_data.py data/demo [--human 24 --mouse 72 --size 128 --seed 0]
"""
import argparse

from crossspec_mmseg.demo import write_demo_tiles


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('out_dir')
    parser.add_argument('--human', type=int, default=24, help='human tiles')
    parser.add_argument('--mouse', type=int, default=72, help='mouse tiles')
    parser.add_argument('--size', type=int, default=128, help='tile side (px)')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    manifest = write_demo_tiles(args.out_dir, dict(human=args.human, mouse=args.mouse),
                                size=args.size, seed=args.seed)
    print(f'wrote {args.human + args.mouse} tiles; manifest: {manifest}')


if __name__ == '__main__':
    main()
