"""The synthetic demo generator: deterministic, two distinguishable species."""
import hashlib
import os

import cv2
import numpy as np

from crossspec_mmseg.datasets import MANIFEST_COLUMNS, read_manifest
from crossspec_mmseg.demo import SPECIES_STYLES, render_tissue, write_demo_tiles


def _digest(root):
    h = hashlib.sha256()
    for dirpath, _, files in sorted(os.walk(root)):
        for name in sorted(files):
            with open(os.path.join(dirpath, name), 'rb') as f:
                h.update(name.encode() + f.read())
    return h.hexdigest()


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    for name, seed in (('a', 3), ('b', 3), ('c', 4)):
        write_demo_tiles(str(tmp_path / name), dict(human=2, mouse=2), size=32, seed=seed)
    assert _digest(tmp_path / 'a') == _digest(tmp_path / 'b')
    assert _digest(tmp_path / 'a') != _digest(tmp_path / 'c')


def test_species_differ_in_size_count_and_stain():
    stats = {}
    for species, style in SPECIES_STYLES.items():
        rng = np.random.default_rng(0)
        counts, areas, colours = [], [], []
        for _ in range(20):
            image, instances = render_tissue(rng, style, size=128)
            ids, sizes = np.unique(instances[instances > 0], return_counts=True)
            counts.append(len(ids))
            areas.extend(sizes)
            colours.append(image[instances > 0].mean(0))
        stats[species] = (np.mean(counts), np.median(areas), np.mean(colours, 0))
    assert stats['mouse'][0] > 1.5 * stats['human'][0]   # denser
    assert stats['human'][1] > 2 * stats['mouse'][1]     # larger nuclei
    assert np.abs(stats['human'][2] - stats['mouse'][2]).max() > 10  # stain hue


def test_manifest_and_masks(tmp_path):
    manifest = write_demo_tiles(str(tmp_path), dict(human=5, mouse=5), size=32, seed=0)
    rows = read_manifest(manifest)
    assert len(rows) == 10
    assert set(MANIFEST_COLUMNS) <= set(rows[0])
    assert {r['species'] for r in rows} == {'human', 'mouse'}
    for species in ('human', 'mouse'):
        assert {r['split'] for r in rows if r['species'] == species} == {'train', 'val', 'test'}
    mask = cv2.imread(str(tmp_path / rows[0]['mask']), cv2.IMREAD_UNCHANGED)
    image = cv2.imread(str(tmp_path / rows[0]['image']), cv2.IMREAD_UNCHANGED)
    assert mask.dtype == np.uint8 and set(np.unique(mask)) <= {0, 1} and mask.any()
    assert image.shape == (32, 32, 3)
