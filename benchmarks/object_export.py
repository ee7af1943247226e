"""Objects of a slide's label mask to QuPath GeoJSON: ours (row runs, band by
band, exact pixel-edge outlines: ``trace_objects`` + ``write_geojson``) against
the way slide tools commonly export contours (e.g. HoVer-Net's and
TIAToolbox's GeoJSON/QuPath writers): ``cv2.findContours`` (``RETR_CCOMP``,
``CHAIN_APPROX_SIMPLE``) on the whole mask per class, holes attached by the
contour hierarchy, ``cv2.approxPolyDP`` with the same tolerance, one
``json.dumps`` per feature. The peer traces pixel centres, not pixel edges,
and needs the whole mask in memory; ours reads bands. Each method runs in
its own process, imports done before timing; time and peak RSS above the
process's baseline (the mask made and held by both).

Masks: ``discs`` (tissue-like regions: 400 discs of radius 100-600 px per
16,000 px square, about half the slide) and ``nuclei`` (600 ellipses of
8-18 px semi-axes per Mpx: nuclei of 4-9 um at 0.25 um/px, densely packed).

    python benchmarks/object_export.py [--side 16000] [--mask discs|nuclei]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import cv2
import numpy as np

TOLERANCE = 0.5


def make_mask(kind: str, side: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    mask = np.zeros((side, side), np.uint8)
    if kind == 'discs':
        n = max(1, round(400 * side * side / 16000 ** 2))
        for (x, y), r in zip(rng.random((n, 2)) * side, rng.uniform(100, 600, n)):
            cv2.circle(mask, (round(x), round(y)), round(r), 1, -1)
    else:
        n = round(600 * side * side / 1e6)
        for (x, y), (a, b), angle in zip(rng.random((n, 2)) * side, rng.uniform(8, 18, (n, 2)),
                                         rng.uniform(0, 180, n)):
            cv2.ellipse(mask, (round(x), round(y)), (round(a), round(b)), angle, 0, 360, 1, -1)
    return mask


def ours(mask: np.ndarray, path: str) -> int:
    from crossspec_mmseg.inference.disk_mask import mask_bands
    from crossspec_mmseg.inference.exports import SlideOutputs, write_geojson
    from crossspec_mmseg.inference.objects import trace_objects
    outputs = SlideOutputs(geojson=path, tolerance=TOLERANCE)
    objects = trace_objects(mask_bands(mask), mask.shape[1], TOLERANCE)
    write_geojson(path, objects, outputs)
    return len(objects)


def find_contours(mask: np.ndarray, path: str) -> int:
    features = 0
    with open(path, 'w') as f:
        f.write('{"type": "FeatureCollection", "features": [')
        for label in np.flatnonzero(np.bincount(mask.ravel())[1:]) + 1:
            contours, hierarchy = cv2.findContours((mask == label).view(np.uint8),
                                                   cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
            if hierarchy is None:
                continue
            hierarchy = hierarchy[0]
            simplified = [cv2.approxPolyDP(c, TOLERANCE, True)[:, 0] for c in contours]
            for i in np.flatnonzero(hierarchy[:, 3] < 0):  # outer contours
                rings, child = [simplified[i]], hierarchy[i, 2]
                while child >= 0:  # its holes
                    rings.append(simplified[child])
                    child = hierarchy[child, 0]
                coordinates = [np.vstack([r, r[:1]]).tolist() for r in rings]
                feature = {'type': 'Feature', 'geometry': {'type': 'Polygon',
                                                           'coordinates': coordinates},
                           'properties': {'objectType': 'annotation',
                                          'classification': {'name': f'class{label}'}}}
                f.write((',\n' if features else '\n') + json.dumps(feature))
                features += 1
        f.write('\n]}\n')
    return features


METHODS = {'ours (row runs, bands, pixel edges)': ours,
           'cv2.findContours on the whole mask': find_contours}


def run(method: str, kind: str, side: int) -> dict:
    import crossspec_mmseg.inference  # noqa: F401  imported (torch, mmseg) before timing
    mask = make_mask(kind, side)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, 'objects.geojson')
        start = time.perf_counter()
        objects = METHODS[method](mask, path)
        seconds = time.perf_counter() - start
        size = os.path.getsize(path) / 2 ** 20
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return dict(method=method, objects=objects, seconds=seconds, geojson_mb=size,
                extra_rss_mb=peak - base)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--side', type=int, default=16000)
    parser.add_argument('--mask', choices=['discs', 'nuclei'], default='discs')
    parser.add_argument('--run', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        print(json.dumps(run(args.run, args.mask, args.side)))
        return
    rows = []
    for method in METHODS:
        proc = subprocess.run([sys.executable, __file__, '--run', method, '--mask', args.mask,
                               '--side', str(args.side)], capture_output=True, text=True,
                              check=True)
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    print(f'{args.mask} mask, {args.side} x {args.side}, tolerance {TOLERANCE} px')
    print('| method | objects | time (s) | vs ours | GeoJSON (MB) | extra peak RSS (MB) |')
    print('| --- | ---: | ---: | ---: | ---: | ---: |')
    for row in rows:
        print(f"| {row['method']} | {row['objects']} | {row['seconds']:.2f} | "
              f"{row['seconds'] / rows[0]['seconds']:.1f}x | {row['geojson_mb']:.1f} | "
              f"{row['extra_rss_mb']:.0f} |")


if __name__ == '__main__':
    main()
