"""Predict whole slides, tile by tile, with a trained checkpoint.

    python tools/infer_slide.py CONFIG CHECKPOINT SLIDE.svs --out OUT.tif [--tile 512]
        [--overlap 0.5] [--mpp 1.25 | --scale 0.4] [--base-mpp 0.5]
        [--blend center|gaussian|mean] [--rle] [--batch N] [--device cpu|cuda]
        [--min-tissue 0.05] [--count-class 1 --min-area 100] [--amp] [--channels-last] [--tta]
        [--geojson [PATH] [--object-type annotation|detection] [--simplify 0.5]]
        [--ome-tiff [PATH]] [--objects-csv [PATH]]
    python tools/infer_slide.py CONFIG CHECKPOINT FOLDER/ 'scans/*.svs' a.ndpi --out OUT_DIR ...

Reads each slide (SVS, OME-TIFF, NDPI, generic pyramidal TIFF; other formats
with OpenSlide installed) at the model's um/px: --mpp, else the config's
`train_mpp` when the slide records its um/px, else --scale (default 1).
Writes the label mask at level-0 size (tiled zlib TIFF with its um/px, or
PNG), with --rle the Kaggle row `id,predicted` to OUT.csv (column-major,
1-indexed), and optionally QuPath-ready GeoJSON (one polygon per object and
class, level-0 pixels), a pyramidal OME-TIFF mask with its um/px, and a
per-object CSV (area in um^2, perimeter, centroid, box); these go beside the
mask (OUT.geojson, OUT.ome.tif, OUT_objects.csv) unless given a PATH.
--tta also predicts every tile flipped left-right and top-bottom and averages
the class probabilities (flipped back) before the tiles are blended: three
forward passes per tile.

Several slides (files, folders, globs): --out is a folder, each slide writes
OUT_DIR/<slide name>.tif and its outputs there; a slide whose outputs all
exist is skipped, so an interrupted run resumes where it stopped. Prints one
JSON summary per slide.

A slide that cannot be read or runs out of GPU memory is reported (on stderr,
and as a summary with an "error" key) and the next slide goes on; the exit
status is 1 at the end when any slide failed.

With several processes (tools/dist_infer.sh CONFIG CHECKPOINT GPUS SLIDES...
--out DIR) the slides are shared out by RANK and WORLD_SIZE: rank r predicts
slides r, r + WORLD_SIZE, ...; with --device cuda each process uses (and
touches only) cuda:LOCAL_RANK. No process group is started: the ranks only
split the list, and one rank's failure stops no other.
"""
import argparse
import csv
import glob
import json
import os
import os.path as osp
import sys

import torch
from mmseg.apis import init_model

import crossspec_mmseg  # noqa: F401  (registers components, checkpoint safe globals)
from crossspec_mmseg.engine import UnreadableCheckpointError
from crossspec_mmseg.errors import BadInputError
from crossspec_mmseg.inference import (
    BLENDS,
    MASK_EXTENSIONS,
    OBJECT_TYPES,
    SlideOutputs,
    amp_dtype,
    check_mask_path,
    infer_slide,
)
from crossspec_mmseg.slides import open_slide
from crossspec_mmseg.utils import atomic_path


def positive(text):
    """argparse type: a float > 0."""
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f'{text} is not > 0')
    return value


def target_mpp(args, slide, train_mpp):
    """--mpp; else the config's ``train_mpp`` when neither --scale was given nor
    the slide's um/px is unknown; else None (read by --scale)."""
    if args.mpp is not None or args.scale is not None or train_mpp is None:
        return args.mpp
    with open_slide(slide, args.base_mpp) as reader:
        return float(train_mpp) if reader.mpp else None


SLIDE_EXTENSIONS = ('.svs', '.tif', '.tiff', '.ndpi', '.scn', '.mrxs', '.vms', '.vmu', '.bif',
                    '.svslide')
OUTPUT_SUFFIXES = {'geojson': '.geojson', 'ome_tiff': '.ome.tif', 'objects_csv': '_objects.csv'}


def expand_slides(items):
    """Slide files from files, folders (their slide files) and globs, in order."""
    slides = []
    for item in items:
        if osp.isdir(item):
            found = sorted(p for p in glob.glob(osp.join(item, '*'))
                           if p.lower().endswith(SLIDE_EXTENSIONS) and osp.isfile(p))
        elif glob.has_magic(item):
            found = sorted(p for p in glob.glob(item) if osp.isfile(p))
        else:
            found = [item] if osp.isfile(item) else []
            if not found:
                sys.exit(f'error: slide {item} not found')
        if not found:
            sys.exit(f'error: no slides in {item}')
        slides += [p for p in found if p not in slides]
    return slides


def rank_share(slides):
    """This process's slides under torchrun: ``RANK``, ``RANK + WORLD_SIZE``, ...
    (all of them without it)."""
    rank, world = int(os.environ.get('RANK', 0)), int(os.environ.get('WORLD_SIZE', 1))
    return slides[rank::world]


def rank_device(device):
    """``cuda`` -> ``cuda:LOCAL_RANK`` under torchrun; others as given."""
    if device == 'cuda' and 'LOCAL_RANK' in os.environ:
        return f'cuda:{int(os.environ["LOCAL_RANK"])}'
    return device


def output_paths(args, slide, many):
    """Where this slide's mask and asked-for outputs go."""
    name = osp.splitext(osp.basename(slide))[0]
    mask = osp.join(args.out, name + '.tif') if many else args.out
    stem = osp.splitext(mask)[0]
    paths = dict(mask=mask)
    for key, suffix in OUTPUT_SUFFIXES.items():
        value = getattr(args, key)
        if value is not None:
            paths[key] = value or stem + suffix
    if args.rle:
        paths['rle'] = stem + '.csv'
    return paths


def check_outputs(args, slides):
    """Exit with one line when --out or the output paths cannot fit these slides."""
    many = len(slides) > 1
    if many:
        given = [f'--{k.replace("_", "-")}' for k in OUTPUT_SUFFIXES if getattr(args, k)]
        if given or osp.splitext(args.out)[1].lower() in MASK_EXTENSIONS:
            sys.exit(f'error: {len(slides)} slides: --out must be a folder and '
                     f'{", ".join(given) or "the outputs"} take no path (each slide writes '
                     'beside its mask)')
        masks = [output_paths(args, s, many)['mask'] for s in slides]
        clash = [s for s, m in zip(slides, masks) if masks.count(m) > 1]
        if clash:
            sys.exit(f'error: {", ".join(clash[:4])}{" ..." if len(clash) > 4 else ""} share '
                     f'a name, so their outputs in {args.out} would collide: rename them, '
                     'or run them into separate --out folders')
        return
    try:
        check_mask_path(args.out)
    except ValueError as err:
        sys.exit(f'error: --out {err}')


def predict(model, args, slide, paths, outputs):
    """Infer one slide; its summary."""
    mpp = target_mpp(args, slide, model.cfg.get('train_mpp'))
    outputs.geojson, outputs.ome_tiff = paths.get('geojson'), paths.get('ome_tiff')
    outputs.objects_csv = paths.get('objects_csv')
    result = infer_slide(model, slide, paths['mask'], tile=args.tile, overlap=args.overlap,
                         scale=args.scale or 1.0, blend=args.blend, batch=args.batch,
                         min_tissue=args.min_tissue, rle=args.rle,
                         count_class=args.count_class, min_area=args.min_area, mpp=mpp,
                         base_mpp=args.base_mpp, outputs=outputs, amp=args.amp,
                         channels_last=args.channels_last, tta=args.tta)
    if args.rle:
        with atomic_path(paths['rle']) as tmp, open(tmp, 'w', newline='') as f:
            writer = csv.writer(f)
            writer.writerow(['id', 'predicted'])
            writer.writerow([osp.splitext(osp.basename(slide))[0], result.rle])
    return dict(slide=slide, shape=list(result.shape), tiles_run=result.tiles_run,
                tiles_skipped=result.tiles_skipped, count=result.count, read_mpp=mpp,
                level=result.level, mpp=result.mpp, seconds=round(result.seconds, 2),
                export_seconds=round(result.export_seconds, 2), **paths)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('slides', nargs='+', help='slide files, folders or globs')
    parser.add_argument('--out', required=True,
                        help='mask path (.tif/.tiff/.png); a folder for several slides')
    parser.add_argument('--tile', type=int, default=512)
    parser.add_argument('--overlap', type=float, default=0.5)
    resolution = parser.add_mutually_exclusive_group()
    resolution.add_argument('--mpp', type=positive,
                            help="model input um/px (default: the config's train_mpp)")
    resolution.add_argument('--scale', type=positive,
                            help='resize factor used for the training tiles (HuBMAP: 0.4)')
    parser.add_argument('--base-mpp', type=positive,
                        help="the slide's level-0 um/px when its metadata lacks it")
    parser.add_argument('--blend', choices=BLENDS, default='center')
    parser.add_argument('--batch', type=int, default=4)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu',
                        help='default: cuda when a GPU is visible, else cpu; under torchrun '
                        'cuda means cuda:LOCAL_RANK')
    parser.add_argument('--min-tissue', type=float, default=0.0,
                        help='skip windows with less tissue (HSV saturation > 40), looked up '
                        'in a tissue map made once from a low level')
    parser.add_argument('--rle', action='store_true', help='also write OUT.csv (id,predicted)')
    parser.add_argument('--count-class', type=int, help='count components of this class')
    parser.add_argument('--min-area', type=int, default=0)
    parser.add_argument('--amp', action='store_true',
                        help='autocast the forward: bfloat16 on CPU and on GPUs that '
                        'support it (Ampere and newer), else float16')
    parser.add_argument('--channels-last', action='store_true',
                        help='channels-last memory for the model and its inputs')
    parser.add_argument('--tta', action='store_true',
                        help='flip test-time augmentation (left-right, top-bottom): '
                        'probabilities averaged, 3 forwards per tile')
    beside = dict(nargs='?', const='', metavar='PATH')
    parser.add_argument('--geojson', **beside, help='objects as QuPath-ready GeoJSON')
    parser.add_argument('--object-type', choices=OBJECT_TYPES, default='annotation',
                        help='QuPath object type of the GeoJSON features')
    parser.add_argument('--simplify', type=float, default=0.5,
                        help='polygon tolerance in level-0 pixels (0: exact outlines)')
    parser.add_argument('--ome-tiff', **beside,
                        help='pyramidal OME-TIFF label mask with its um/px')
    parser.add_argument('--objects-csv', **beside,
                        help='one row per object (area, perimeter, ...)')
    # Passed by tools/torchrun.sh; the ranks come from RANK/WORLD_SIZE whatever it says.
    parser.add_argument('--launcher', choices=['none', 'pytorch'], help=argparse.SUPPRESS)
    args = parser.parse_args()
    for what, path in (('config', args.config), ('checkpoint', args.checkpoint)):
        if not osp.isfile(path):
            sys.exit(f'error: {what} {path} not found')
    slides = expand_slides(args.slides)
    check_outputs(args, slides)
    many = len(slides) > 1
    slides = rank_share(slides)

    device = rank_device(args.device)
    if device.startswith('cuda'):
        torch.cuda.set_device(torch.device(device))  # this rank's GPU only, also for libraries
        torch.backends.cudnn.benchmark = True  # every forward has the same tile shape
    try:
        model = init_model(args.config, args.checkpoint, device=device)
    except UnreadableCheckpointError as err:
        sys.exit(f'error: {err}')
    if args.amp:
        print(f'autocast: {amp_dtype(torch.device(device))}', file=sys.stderr, flush=True)
    meta = model.dataset_meta or {}
    outputs = SlideOutputs(classes=meta.get('classes'), palette=meta.get('palette'),
                           object_type=args.object_type, tolerance=args.simplify)
    failed = []
    for slide in slides:
        paths = output_paths(args, slide, many)
        if many and all(osp.isfile(p) for p in paths.values()):
            print_record(dict(slide=slide, done=True, **paths))  # finished earlier
            continue
        try:
            print_record(predict(model, args, slide, paths, outputs))
        except (BadInputError, torch.cuda.OutOfMemoryError) as err:
            reason = str(err) if isinstance(err, BadInputError) else (
                f'{slide}: out of GPU memory; rerun it with a smaller --batch or --tile')
            if not many:
                sys.exit(f'error: {reason}')
            torch.cuda.empty_cache()
            sys.stderr.write(f'error: {reason}\n')
            print_record(dict(slide=slide, error=reason))
            failed.append(slide)
    if failed:
        sys.exit(f'error: {len(failed)} of {len(slides)} slides failed (listed above); the '
                 'others are written: fix those and rerun to finish')


def print_record(record):
    """One JSON line on stdout in a single write, so the lines of ranks
    sharing a pipe never interleave (``print`` may write text and newline apart)."""
    sys.stdout.write(json.dumps(record) + '\n')
    sys.stdout.flush()


if __name__ == '__main__':
    main()
