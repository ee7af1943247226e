"""What the typed-nuclei demo (``make demo-nuclei``) shows: one table per
dataset and a panel of tiles.

- :func:`format_tables`: per test dataset, each run's bPQ, mPQ and PQ of
  each of the dataset's classes (``tools/test.py``'s ``metrics.json`` keys
  ``dataset/<name>/bPQ`` ...), with the difference to a baseline run.
- :func:`write_panel`: a PNG, one row per tile (a few per dataset), columns
  image / truth / each run, nuclei outlined and tinted by type in the
  dataset's own labels. It reads what ``tools/test.py --nuclei-npy DIR
  --nuclei-npy-layout conic`` writes: ``DIR/<label set>/{true,pred}.npy``
  (``[instance id, type]`` per pixel) and ``images.csv`` (row -> tile).

``python -m crossspec_mmseg.demo.nuclei_panel --runs NAME=WORK_DIR ...
--out PANEL.png`` prints the tables and writes the panel (each ``WORK_DIR``
holding ``metrics.json`` and ``nuclei_npy/``; the first run is the baseline).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import os.path as osp
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

from ..structures.nucleus_tree import NUCLEUS_CLASSES

__all__ = ['NODE_COLOURS', 'DATASET_TITLES', 'class_columns', 'format_tables', 'read_npy_run',
           'type_colours', 'write_panel']

#: Colour of each tree node a dataset class names (a dataset's class -> its node).
NODE_COLOURS: Dict[str, Tuple[int, int, int]] = {
    'neoplastic_epithelial': (230, 30, 30),
    'normal_epithelial': (255, 150, 0),
    'epithelial': (240, 80, 20),
    'immune': (30, 200, 60),
    'lymphocyte': (30, 200, 60),
    'neutrophil': (0, 210, 230),
    'macrophage': (250, 230, 0),
    'stromal': (40, 90, 240),
    'fibroblast': (40, 90, 240),
    'muscle': (150, 60, 230),
    'endothelial': (240, 60, 210),
    'other': (245, 245, 245),  # dead/necrotic nuclei are dark: a light outline
    'nucleus': (150, 150, 150),
}
_UNTYPED = (0, 0, 0)
DATASET_TITLES = {'pannuke': 'PanNuke', 'consep': 'CoNSeP', 'monusac': 'MoNuSAC'}
#: Columns of every table before the per-class PQ.
SUMMARY = ('bPQ', 'mPQ')


def class_columns(metrics: Mapping[str, float], dataset: str) -> List[str]:
    """The ``PQ_<class>`` keys of ``dataset``'s classes in ``metrics``, in the
    order of its label set (a dataset the tree does not know: sorted, less the
    per-image ``PQ_img*``)."""
    prefix = f'dataset/{dataset}/PQ_'
    found = {k[len(prefix):] for k in metrics if k.startswith(prefix)}
    if dataset not in NUCLEUS_CLASSES:
        return sorted(f'PQ_{n}' for n in found if not n.startswith('img'))
    return [f'PQ_{node}' for _, node in NUCLEUS_CLASSES[dataset] if node in found]


def _cell(value: Optional[float], base: Optional[float], show_diff: bool) -> str:
    if value is None:
        return '-'
    text = f'{value:.1f}'
    if show_diff and base is not None:
        text += f' ({value - base:+.1f})'
    return text


def format_tables(runs: Mapping[str, Mapping[str, float]], baseline: Optional[str] = None,
                  datasets: Optional[Sequence[str]] = None,
                  notes: Optional[Mapping[str, str]] = None) -> str:
    """One table per dataset: a row per run, bPQ, mPQ and PQ of each class
    (in %, the columns named as the dataset names its classes), each with its
    difference to ``baseline`` (default: the first run).

    Args:
        runs: ``{run name: metrics}`` (``tools/test.py``'s ``metrics.json``).
        baseline: The run the differences are to.
        datasets: Tables to print (default: every ``dataset/<name>/mPQ`` found).
        notes: ``{dataset: text}`` after the dataset's title.
    """
    if not runs:
        return ''
    names = list(runs)
    baseline = baseline or names[0]
    if baseline not in runs:
        raise KeyError(f'baseline {baseline!r} is not a run ({names})')
    if datasets is None:
        found = {k.split('/')[1] for m in runs.values() for k in m
                 if k.startswith('dataset/') and k.endswith('/mPQ')}
        datasets = [d for d in DATASET_TITLES if d in found] + sorted(
            found - set(DATASET_TITLES))
    base = runs[baseline]
    width = max(len(n) for n in names) + 2
    tables = []
    for dataset in datasets:
        columns = list(SUMMARY) + class_columns(
            {k: v for m in runs.values() for k, v in m.items()}, dataset)
        title = DATASET_TITLES.get(dataset, dataset)
        note = (notes or {}).get(dataset)
        lines = [f'{title}{f" ({note})" if note else ""}: PQ in %, (difference to {baseline})']
        cells = []
        for name in names:
            m = runs[name]
            cells.append([_cell(m.get(f'dataset/{dataset}/{c}'),
                                base.get(f'dataset/{dataset}/{c}'), name != baseline)
                          for c in columns])
        own = {node: name for name, node in NUCLEUS_CLASSES.get(dataset, ())}
        heads = [own.get(c[3:], c[3:]) if c.startswith('PQ_') else c for c in columns]
        widths = [max(len(h), *(len(row[i]) for row in cells)) + 2
                  for i, h in enumerate(heads)]
        lines.append('  ' + 'run'.ljust(width) + ''.join(
            h.rjust(w) for h, w in zip(heads, widths)))
        for name, row in zip(names, cells):
            lines.append('  ' + name.ljust(width) + ''.join(
                c.rjust(w) for c, w in zip(row, widths)))
        tables.append('\n'.join(lines))
    return '\n\n'.join(tables)


def type_colours(dataset: str) -> Dict[int, Tuple[int, int, int]]:
    """The colour of each of ``dataset``'s class ids (its tree node's)."""
    return {i: NODE_COLOURS.get(node, _UNTYPED)
            for i, (_, node) in enumerate(NUCLEUS_CLASSES[dataset]) if i}


def read_npy_run(folder: str) -> Tuple[np.ndarray, np.ndarray, List[str]]:
    """``(true, pred, tile paths)`` of one label set's ``--nuclei-npy`` folder
    in the ``conic`` layout (``(N, H, W, 2)``: instance id, type)."""
    true = np.load(osp.join(folder, 'true.npy'), mmap_mode='r')
    pred = np.load(osp.join(folder, 'pred.npy'), mmap_mode='r')
    if true.ndim != 4 or true.shape[-1] != 2 or pred.shape != true.shape:
        raise ValueError(f'{folder}: expected the conic layout (N, H, W, 2) in true.npy and '
                         f'pred.npy (tools/test.py --nuclei-npy-layout conic), got '
                         f'{true.shape} and {pred.shape}')
    with open(osp.join(folder, 'images.csv'), newline='') as f:
        paths = [row['image'] for row in csv.DictReader(f)]
    return true, pred, paths


def _overlay(image: np.ndarray, labels: np.ndarray,
             colours: Mapping[int, Tuple[int, int, int]]) -> np.ndarray:
    """``image`` with each nucleus tinted and outlined in its type's colour
    (``labels``: ``(H, W, 2)`` instance id, type)."""
    out = image.astype(np.float32).copy()
    instances, types = labels[..., 0], labels[..., 1]
    lut = np.array([colours.get(t, _UNTYPED) for t in range(max(colours, default=0) + 1)]
                   + [_UNTYPED], np.float32)
    colour = lut[np.minimum(types, len(lut) - 1)]
    inside = instances > 0
    out[inside] = 0.6 * out[inside] + 0.4 * colour[inside]
    # the outline: nucleus pixels with another id (or the background) among their 8 neighbours
    grown = ndimage.grey_dilation(instances, size=3, mode='nearest')
    shrunk = ndimage.grey_erosion(instances, size=3, mode='nearest')
    edge = inside & ((grown != instances) | (shrunk != instances))
    out[edge] = colour[edge]
    return np.clip(out, 0, 255).astype(np.uint8)


def _tile_image(path: str, shape: Tuple[int, int]) -> np.ndarray:
    if path and osp.isfile(path):
        with Image.open(path) as im:
            rgb = np.asarray(im.convert('RGB'))
        if rgb.shape[:2] == tuple(shape):
            return rgb
    return np.full(tuple(shape) + (3,), 128, np.uint8)  # the tile is gone: grey


def write_panel(out: str, runs: Mapping[str, str], datasets: Optional[Sequence[str]] = None,
                tiles: int = 2, scale: int = 2) -> str:
    """A PNG: for each dataset ``tiles`` test tiles (evenly spaced through
    its test split), each a row: the tile, its truth, then each run's
    nuclei, tinted and outlined by type in the dataset's own labels, with a
    legend of the dataset's classes.

    Args:
        out: The PNG to write.
        runs: ``{run name: --nuclei-npy folder}`` (conic layout), all of the
            same test tiles; the truth is read from the first.
        datasets: Label sets to show (default: every one the first run has).
        tiles: Rows per dataset.
        scale: Pixels per tile pixel (nearest).

    Returns:
        ``out``.
    """
    names = list(runs)
    if not names:
        raise ValueError('write_panel needs at least one run')
    first = runs[names[0]]
    if datasets is None:
        datasets = [d for d in DATASET_TITLES if osp.isdir(osp.join(first, d))] + sorted(
            d for d in os.listdir(first) if osp.isdir(osp.join(first, d))
            and d not in DATASET_TITLES and not d.startswith('.'))
    rows = []  # (dataset, [cells])
    for dataset in datasets:
        true, pred0, paths = read_npy_run(osp.join(first, dataset))
        preds = [pred0] + [read_npy_run(osp.join(runs[n], dataset))[1] for n in names[1:]]
        for p, n in zip(preds, names):
            if p.shape != true.shape:
                raise ValueError(f'run {n!r}: {dataset} predictions {p.shape} do not match the '
                                 f'truth {true.shape}: test the runs on the same tiles')
        colours = type_colours(dataset) if dataset in NUCLEUS_CLASSES else {}
        picks = np.unique(np.linspace(0, len(true) - 1, min(tiles, len(true))).round().astype(int))
        for i in picks:
            image = _tile_image(paths[i], true.shape[1:3])
            cells = [image, _overlay(image, np.asarray(true[i]), colours)]
            cells += [_overlay(image, np.asarray(p[i]), colours) for p in preds]
            rows.append((dataset, osp.splitext(osp.basename(paths[i]))[0], cells, colours))
    if not rows:
        raise ValueError(f'no test tiles in {first} for {list(datasets)}')
    return _compose(out, names, rows, scale)


def _compose(out: str, names: Sequence[str], rows, scale: int) -> str:
    cell_h = max(r[2][0].shape[0] for r in rows) * scale
    cell_w = max(r[2][0].shape[1] for r in rows) * scale
    gap, head, side, legend_w = 4, 18, 120, 150
    columns = ['image', 'truth'] + list(names)
    width = side + len(columns) * (cell_w + gap) + legend_w
    height = head + len(rows) * (cell_h + gap)
    canvas = Image.new('RGB', (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for c, name in enumerate(columns):
        draw.text((side + c * (cell_w + gap) + 2, 3), name, fill=(0, 0, 0))
    shown = set()
    for r, (dataset, tile, cells, colours) in enumerate(rows):
        top = head + r * (cell_h + gap)
        draw.text((4, top + 4), DATASET_TITLES.get(dataset, dataset), fill=(0, 0, 0))
        for k in range(0, min(len(tile), 54), 18):  # the tile's name, 18 characters a line
            draw.text((4, top + 20 + 12 * k // 18), tile[k:k + 18], fill=(90, 90, 90))
        for c, cell in enumerate(cells):
            big = Image.fromarray(cell).resize((cell.shape[1] * scale, cell.shape[0] * scale),
                                               Image.NEAREST)
            canvas.paste(big, (side + c * (cell_w + gap), top))
        if dataset not in shown:  # the dataset's classes, once
            shown.add(dataset)
            x = side + len(columns) * (cell_w + gap) + 6
            for k, (i, colour) in enumerate(sorted(colours.items())):
                y = top + 4 + 14 * k
                draw.rectangle((x, y, x + 10, y + 10), fill=colour, outline=(0, 0, 0))
                draw.text((x + 14, y - 1), NUCLEUS_CLASSES[dataset][i][0], fill=(0, 0, 0))
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    canvas.save(out)
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description='Tables and panel of the typed-nuclei demo.')
    parser.add_argument('--runs', nargs='+', required=True, metavar='NAME=WORK_DIR',
                        help='runs, the baseline first; each WORK_DIR holds metrics.json and '
                        'nuclei_npy/ (tools/test.py --nuclei-npy WORK_DIR/nuclei_npy '
                        '--nuclei-npy-layout conic)')
    parser.add_argument('--out', help='panel PNG (none without)')
    parser.add_argument('--tiles', type=int, default=2, help='tiles per dataset in the panel')
    parser.add_argument('--note', action='append', default=[], metavar='DATASET=TEXT',
                        help='text after a dataset table\'s title')
    args = parser.parse_args(argv)
    runs = dict(arg.split('=', 1) for arg in args.runs)
    metrics = {}
    for name, folder in runs.items():
        with open(osp.join(folder, 'metrics.json')) as f:
            metrics[name] = json.load(f)
    notes = dict(arg.split('=', 1) for arg in args.note)
    print(format_tables(metrics, notes=notes))
    if args.out:
        path = write_panel(args.out, {n: osp.join(f, 'nuclei_npy') for n, f in runs.items()},
                           tiles=args.tiles)
        print(f'panel: {path}')


if __name__ == '__main__':
    main()
