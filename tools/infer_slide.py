"""Predict whole slides, tile by tile, with a trained checkpoint.

    python tools/infer_slide.py CONFIG CHECKPOINT SLIDE.svs --out OUT.tif [--tile 512]
        [--overlap 0.5] [--mpp 1.25 | --scale 0.4] [--base-mpp 0.5]
        [--blend center|gaussian|mean] [--rle] [--batch N] [--device cpu|cuda]
        [--min-tissue 0.05] [--count-class 1 --min-area 100] [--amp] [--channels-last] [--tta]
        [--geojson [PATH] [--object-type annotation|detection] [--simplify 0.5]]
        [--ome-tiff [PATH]] [--objects-csv [PATH]] [--label-set NAME]
    python tools/infer_slide.py CONFIG CHECKPOINT FOLDER/ 'scans/*.svs' a.ndpi --out OUT_DIR ...
    python tools/infer_slide.py CONFIG CHECKPOINT --slides-from LIST.txt --out OUT_DIR ...

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

Typed nuclei (a config whose model decides nuclei: route a, `instance_postprocess`
on CrossSpeciesEncoderDecoder; route b, StarDistSegmentor; docs/nuclei.md):
instances are decided per tile and each nucleus is kept by the tile whose core
holds its centroid (touching nuclei of one type stay apart), typed in the label
set --label-set NAME (a dataset of the nucleus tree: pannuke, consep, monusac,
lizard, nuinsseg; default the tree's leaves). The mask is then the type map;
the GeoJSON holds one QuPath detection per nucleus (classification and type
probabilities), the table its type, probabilities, area and centroid in um, the
OME-TIFF a `nuclei` and a `type` channel, and OUT_nuclei.json the count and
density per type per mm^2 of tissue. Such configs record their um/px as `mpp`
(read as train_mpp). See docs/slides.md, "Typed nuclei".

Several slides (files, folders, globs, and --slides-from LIST: one path per
line, blank lines and # comments skipped, relative to the list's folder):
--out is a folder, each slide writes OUT_DIR/<name>.tif and its outputs
there (<name>: the file name less its extension, .ome.tif as one). Two
outputs sharing a path (a.svs and a.ndpi; x.svs and x.ome.tif), or an output
that is a slide, are refused before anything is written. A slide whose
outputs all exist is skipped, so an interrupted run resumes where it
stopped. Masks are made in a scratch folder (--scratch-dir, default beside
them) that a rerun removes when the run that made it was killed. Prints one
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
import json
import os
import os.path as osp
import sys
from dataclasses import replace

import torch
from mmengine.config import Config, DictAction
from mmseg.apis import init_model

import crossspec_mmseg  # noqa: F401  (registers components, checkpoint safe globals)
from crossspec_mmseg.engine import UnreadableCheckpointError
from crossspec_mmseg.errors import BadWeightsError
from crossspec_mmseg.inference import (
    BLENDS,
    OBJECT_TYPES,
    SlideOutputs,
    SlideSettings,
    TypedNuclei,
    amp_dtype,
    clean_scratch,
    expand_slides,
    plan_slides,
    run_slides,
    typed_route,
)
from crossspec_mmseg.inference.typed_nuclei import config_route


def positive(text):
    """argparse type: a float > 0."""
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f'{text} is not > 0')
    return value


def rank_share(slides):
    """This process's slides among several (dist_infer.sh): ``RANK``, ``RANK + WORLD_SIZE``, ...
    (all of them without it)."""
    rank, world = int(os.environ.get('RANK', 0)), int(os.environ.get('WORLD_SIZE', 1))
    return slides[rank::world]


def use_device(device):
    """On a GPU: make it this process's current device (so libraries allocate
    there, not on GPU 0) and let cuDNN autotune (every forward has the same
    tile shape). Plain ``cuda`` is the current device already."""
    if not device.startswith('cuda'):
        return
    index = torch.device(device).index
    if index is not None:  # torch refuses set_device('cuda'): it needs an index
        torch.cuda.set_device(index)
    torch.backends.cudnn.benchmark = True


def rank_device(device):
    """``cuda`` -> ``cuda:LOCAL_RANK`` among several processes; others as given."""
    if device == 'cuda' and 'LOCAL_RANK' in os.environ:
        return f'cuda:{int(os.environ["LOCAL_RANK"])}'
    return device


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('slides', nargs='*', help='slide files, folders or globs')
    parser.add_argument('--slides-from', action='append', default=[], metavar='LIST',
                        help='a text file of slides (files, folders or globs), one per line; '
                        'blank lines and # comments skipped; relative to its folder')
    parser.add_argument('--out', required=True,
                        help='mask path (.tif/.tiff/.png); a folder for several slides')
    parser.add_argument('--scratch-dir',
                        help='where masks are made while predicted (one byte per level-0 '
                        'pixel; default: beside them)')
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
    parser.add_argument('--object-type', choices=OBJECT_TYPES,
                        help='QuPath object type of the GeoJSON features (default: annotation; '
                        'detection for typed nuclei)')
    parser.add_argument('--simplify', type=float, default=0.5,
                        help='polygon tolerance in level-0 pixels (0: exact outlines)')
    parser.add_argument('--ome-tiff', **beside,
                        help='pyramidal OME-TIFF label mask with its um/px')
    parser.add_argument('--objects-csv', **beside,
                        help='one row per object (area, perimeter, ...)')
    parser.add_argument('--label-set', metavar='NAME',
                        help='typed nuclei models: the label set nuclei are typed in, a dataset '
                        'of the nucleus tree (pannuke, consep, monusac, lizard, nuinsseg; '
                        "default: the tree's leaves)")
    # Passed by tools/torchrun.sh; the ranks come from RANK/WORLD_SIZE whatever it says.
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value (MMSeg syntax), e.g. '
                             'model.backbone.weights=PATH')
    parser.add_argument('--launcher', choices=['none', 'pytorch'], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.slides and not args.slides_from:
        parser.error('give slides, or --slides-from LIST')
    return args


def main():
    args = parse_args()
    for what, path in (('config', args.config), ('checkpoint', args.checkpoint)):
        if not osp.isfile(path):
            sys.exit(f'error: {what} {path} not found')
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options or {})
    route = config_route(cfg.get('model', {}))  # typed nuclei?
    try:  # everything a user can type wrong, before the model loads
        if args.label_set is not None and route is None:
            raise ValueError(f'--label-set {args.label_set}: {args.config} is not a typed '
                             'nuclei model (instance_postprocess or StarDistSegmentor)')
        typed = TypedNuclei(label_set=args.label_set,
                            object_type=args.object_type or 'detection') if route else None
        slides = expand_slides(args.slides, args.slides_from)
        jobs = plan_slides(slides, args.out, geojson=args.geojson, ome_tiff=args.ome_tiff,
                           objects_csv=args.objects_csv, rle=args.rle,
                           scratch_dir=args.scratch_dir, nuclei_summary=typed is not None)
        settings = SlideSettings(
            tile=args.tile, overlap=args.overlap, mpp=args.mpp, scale=args.scale,
            base_mpp=args.base_mpp, blend=args.blend, batch=args.batch,
            min_tissue=args.min_tissue, count_class=args.count_class, min_area=args.min_area,
            amp=args.amp, channels_last=args.channels_last, tta=args.tta, typed=typed)
    except ValueError as err:  # BadInputError included
        sys.exit(f'error: {err}')
    many = len(jobs) > 1
    jobs = rank_share(jobs)
    for path in clean_scratch(jobs):
        sys.stderr.write(f'removed {path}: scratch of a run that was killed\n')

    device = rank_device(args.device)
    use_device(device)
    try:
        model = init_model(cfg, args.checkpoint, device=device)
    except (UnreadableCheckpointError, BadWeightsError) as err:
        sys.exit(f'error: {err}')
    if args.amp:
        print(f'autocast: {amp_dtype(torch.device(device))}', file=sys.stderr, flush=True)
    if typed_route(model) != route:
        sys.exit(f'error: {args.config}: the built model decides nuclei as {typed_route(model)}, '
                 f'its config as {route}')
    train_mpp = model.cfg.get('train_mpp')
    if train_mpp is None and route is not None:  # nuclei configs record their um/px as mpp
        train_mpp = model.cfg.get('mpp')
    try:
        settings = replace(settings, train_mpp=train_mpp)
    except ValueError as err:
        sys.exit(f'error: {args.config}: {err}')
    meta = model.dataset_meta or {}
    style = SlideOutputs(classes=meta.get('classes'), palette=meta.get('palette'),
                         object_type=args.object_type or 'annotation', tolerance=args.simplify)
    failed = []
    for record in run_slides(model, jobs, settings, style):
        if 'error' in record:
            if not many:
                sys.exit(f'error: {record["error"]}')
            sys.stderr.write(f'error: {record["error"]}\n')
            failed.append(record['slide'])
        print_record(record)
    if failed:
        sys.exit(f'error: {len(failed)} of {len(jobs)} slides failed (listed above); the '
                 'others are written: fix those and rerun to finish')


def print_record(record):
    """One JSON line on stdout in a single write, so the lines of ranks
    sharing a pipe never interleave (``print`` may write text and newline apart)."""
    sys.stdout.write(json.dumps(record) + '\n')
    sys.stdout.flush()


if __name__ == '__main__':
    main()
