"""One hidden set of nucleus types whose look depends on the type, for the
typed-nuclei demo (``make demo-nuclei``) and its tests.

The synthetic downloads of :mod:`.downloads` (PanNuke, CoNSeP, MoNuSAC) draw
their nuclei here when given ``appearance=NucleiAppearance()``: every image
holds nuclei of the hidden types below, and each dataset labels them through
its own label set (:func:`dataset_labels`: PanNuke's 5 classes, CoNSeP's 7,
MoNuSAC's 4 with the stromal and necrotic nuclei left in its background),
as the nucleus tree maps a leaf to a dataset's class
(``LabelTree.leaf_to_label``). So a model can learn the types from the
pixels, and two datasets disagree only in how finely they name them.

The hidden types are leaves of the nucleus tree, each with a size (in um, so
the look does not depend on the download's um/px), a shape, a stain (optical
density and a little eosin), a chromatin texture and, for some, a dark rim
and a nucleolus, loosely after H&E:

============================  =======================================================
neoplastic_epithelial         large, pale, round-irregular, vesicular (dark rim,
                              coarse chromatin, a nucleolus)
normal_epithelial             medium oval, medium stain, fine chromatin
lymphocyte                    small, dark, round, smooth
neutrophil                    small, dark, three lobes
macrophage                    medium, pale, kidney-shaped
fibroblast                    long thin spindle, fairly dark
muscle                        long blunt cigar, medium stain
endothelial                   thin flat ellipse, dark
necrotic                      small shrunken irregular, very dark, a little eosin
============================  =======================================================

Every image also gets its own stain strength (hematoxylin and eosin optical
densities scaled separately), focus (blur) and type mixture (a Dirichlet
draw around the base frequencies), all deterministic for a seed.
"""
from __future__ import annotations

import argparse
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np
from skimage.draw import polygon2mask

__all__ = ['DATASETS', 'HIDDEN_TYPES', 'NucleusLook', 'NucleiAppearance', 'RenderedNuclei',
           'dataset_labels', 'write_nuclei_downloads']

#: Datasets whose label sets :func:`dataset_labels` knows.
DATASETS = ('pannuke', 'consep', 'monusac')
#: Optical density (per RGB channel) of one unit of hematoxylin and of eosin.
_HEMATOXYLIN = np.array([0.98, 1.55, 0.62])
_EOSIN = np.array([0.12, 0.78, 0.30])


@dataclass(frozen=True)
class NucleusLook:
    """How one hidden type looks.

    Attributes:
        axes_um: Mean semi-axes (major, minor) in um.
        shape: ``'ellipse'``, ``'spindle'`` (pointed ends), ``'cigar'``
            (blunt ends), ``'lobed'`` (three lobes), ``'kidney'`` (one
            indentation) or ``'irregular'`` (a ragged outline).
        stain: Hematoxylin optical density of the nucleus (1: medium).
        eosin: Eosin optical density mixed in (pinkish nuclei).
        texture: Chromatin contrast (relative change of the density).
        grain_um: Size of the chromatin grains (um).
        rim: Extra density on the nuclear membrane (relative), a pale centre.
        nucleolus: A dark dot near the centre.
        frequency: Base share among the nuclei.
    """

    axes_um: Tuple[float, float]
    shape: str
    stain: float
    eosin: float = 0.0
    texture: float = 0.1
    grain_um: float = 0.6
    rim: float = 0.0
    nucleolus: bool = False
    frequency: float = 0.1


#: The hidden types (leaves of the nucleus tree) and their looks.
HIDDEN_TYPES: Dict[str, NucleusLook] = {
    'neoplastic_epithelial': NucleusLook((6.2, 5.0), 'irregular', stain=0.55, texture=0.35,
                                         grain_um=1.0, rim=0.8, nucleolus=True,
                                         frequency=0.18),
    'normal_epithelial': NucleusLook((4.2, 3.1), 'ellipse', stain=0.95, texture=0.15,
                                     grain_um=0.5, frequency=0.14),
    'lymphocyte': NucleusLook((2.8, 2.6), 'ellipse', stain=1.7, texture=0.05, frequency=0.18),
    'neutrophil': NucleusLook((3.6, 3.4), 'lobed', stain=1.45, texture=0.08, frequency=0.06),
    'macrophage': NucleusLook((5.0, 3.6), 'kidney', stain=0.75, texture=0.2, grain_um=0.5,
                              frequency=0.08),
    'fibroblast': NucleusLook((7.5, 1.6), 'spindle', stain=1.25, texture=0.1, frequency=0.14),
    'muscle': NucleusLook((9.0, 2.2), 'cigar', stain=0.9, texture=0.15, grain_um=0.5,
                          frequency=0.07),
    'endothelial': NucleusLook((6.0, 1.3), 'ellipse', stain=1.35, texture=0.05, frequency=0.08),
    'necrotic': NucleusLook((2.4, 2.0), 'irregular', stain=2.0, eosin=0.5, texture=0.2,
                            frequency=0.07),
}


def dataset_labels(dataset: str) -> np.ndarray:
    """Per hidden type (in :data:`HIDDEN_TYPES` order), its class id in
    ``dataset``'s own labels (0: the dataset's background), as the nucleus
    tree maps the leaf (``LabelTree.leaf_to_label``)."""
    from ..structures import LabelTree  # torch: only when a download is written
    tree = LabelTree.build('nucleus')
    per_leaf = tree.leaf_to_label(dataset).numpy()
    return np.array([int(per_leaf[tree.leaves.index(name)]) for name in HIDDEN_TYPES], np.int64)


@dataclass
class RenderedNuclei:
    """One drawn image.

    Attributes:
        image: ``(H, W, 3)`` uint8 RGB.
        instances: ``(H, W)`` int32, 0 background, nuclei 1..N (none overlap).
        types: ``(N,)`` hidden type of nucleus ``k`` in row ``k - 1``
            (an index into :data:`HIDDEN_TYPES`).
        polygons: ``N`` outlines (K x 2, x y, pixels); a pixel belongs to a
            nucleus when its centre lies inside the outline.
    """

    image: np.ndarray
    instances: np.ndarray
    types: np.ndarray
    polygons: List[np.ndarray] = field(default_factory=list)


def _outline(rng: np.random.Generator, look: NucleusLook, scale: float,
             points: int = 40) -> np.ndarray:
    """A centred, unrotated outline (K x 2, x y) in pixels."""
    jitter = rng.uniform(0.85, 1.15)
    a, b = (v * scale * jitter for v in look.axes_um)
    b *= rng.uniform(0.9, 1.1)
    t = np.linspace(0, 2 * np.pi, points, endpoint=False)
    c, s = np.cos(t), np.sin(t)
    if look.shape == 'spindle':  # pointed ends
        x, y = a * c, b * s * np.abs(s) ** 0.3 * (1 - 0.5 * c ** 2)
    elif look.shape == 'cigar':  # blunt ends: a superellipse
        x = a * np.sign(c) * np.abs(c) ** 0.5
        y = b * s
    elif look.shape == 'lobed':  # three lobes
        r = 1 + 0.3 * np.cos(3 * t + rng.uniform(0, 2 * np.pi))
        x, y = a * r * c / 1.15, b * r * s / 1.15
    elif look.shape == 'kidney':  # one indentation on the minor axis
        r = 1 - 0.3 * np.exp(-((t - np.pi / 2 + np.pi) % (2 * np.pi) - np.pi) ** 2 / 0.25)
        x, y = a * r * c, b * r * s
    else:
        x, y = a * c, b * s
    if look.shape == 'irregular':  # a ragged outline
        r = np.ones_like(t)
        for k in (2, 3, 5):
            r += rng.uniform(0.04, 0.1) * np.cos(k * t + rng.uniform(0, 2 * np.pi))
        x, y = x * r, y * r
    return np.stack([x, y], 1)


def _smooth_field(rng: np.random.Generator, shape: Tuple[int, int], sigma: float) -> np.ndarray:
    """Gaussian noise blurred by ``sigma`` px, scaled to unit deviation."""
    noise = cv2.GaussianBlur(rng.normal(0, 1, shape).astype(np.float32), (0, 0),
                             max(float(sigma), 0.3))
    return noise / max(float(noise.std()), 1e-6)


@dataclass(frozen=True)
class NucleiAppearance:
    """Draws images of the hidden types (pass one as ``appearance=`` to the
    writers in :mod:`.downloads`).

    Attributes:
        types: The hidden types and their looks.
        nuclei_per_tile: Nuclei per 64 x 64 um (a PanNuke patch), drawn per image.
        mixture: Dirichlet concentration of each image's type mixture
            around the base frequencies (lower: images differ more).
        stain_jitter: Per-image relative change of the hematoxylin and
            eosin densities, ``U(1 - j, 1 + j)`` each.
        blur_um: Per-image Gaussian blur sigma (um).
    """

    types: Dict[str, NucleusLook] = field(default_factory=lambda: dict(HIDDEN_TYPES))
    nuclei_per_tile: Tuple[int, int] = (18, 34)
    mixture: float = 8.0
    stain_jitter: float = 0.25
    blur_um: Tuple[float, float] = (0.2, 0.6)

    @property
    def names(self) -> List[str]:
        return list(self.types)

    def render(self, rng: np.random.Generator, shape: Tuple[int, int],
               mpp: float) -> RenderedNuclei:
        """One image of ``shape`` (H, W) at ``mpp`` um/px; ``rng`` is the only
        source of randomness."""
        height, width = shape
        scale = 1.0 / mpp  # px per um
        looks = list(self.types.values())
        base = np.array([look.frequency for look in looks], np.float64)
        mix = rng.dirichlet(self.mixture * base / base.sum())
        j = self.stain_jitter
        h_gain, e_gain = rng.uniform(1 - j, 1 + j, 2)

        # Stroma: eosin with a low-frequency field, fibre-like streaks and pale patches.
        low = cv2.resize(rng.normal(0, 1, (6, 6)).astype(np.float32), (width, height),
                         interpolation=cv2.INTER_CUBIC)
        streaks = cv2.GaussianBlur(rng.normal(0, 1, shape).astype(np.float32), (0, 0),
                                   sigmaX=3 * scale, sigmaY=0.4 * scale)
        streaks /= max(float(streaks.std()), 1e-6)
        eosin = np.clip(0.45 + 0.08 * low + 0.12 * streaks, 0.08, None)
        density = e_gain * eosin[..., None] * _EOSIN + 0.04 * h_gain * _HEMATOXYLIN

        fields = {}
        instances = np.zeros(shape, np.int32)
        types: List[int] = []
        polygons: List[np.ndarray] = []
        area_tiles = height * width / (64 * scale) ** 2
        count = int(round(rng.integers(*self.nuclei_per_tile) * area_tiles))
        for _ in range(count * 15):
            if len(types) == count:
                break
            kind = int(rng.choice(len(looks), p=mix))
            look = looks[kind]
            outline = _outline(rng, look, scale)
            angle = rng.uniform(0, np.pi)
            rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
            centre = rng.uniform((0, 0), (width, height))
            points = outline @ rot.T + centre
            x0, y0 = np.floor(points.min(0)).astype(int)
            x1, y1 = np.ceil(points.max(0)).astype(int) + 1
            if x0 < 0 or y0 < 0 or x1 > width or y1 > height:
                continue  # whole nuclei only
            box = (slice(y0, y1), slice(x0, x1))
            # pixels whose centre lies inside, as the MoNuSAC converter rasterises
            inside = polygon2mask((y1 - y0, x1 - x0), (points - (x0, y0))[:, ::-1])
            if not inside.any() or (instances[box][inside] > 0).any():
                continue  # nuclei may touch, never overlap
            types.append(kind)
            polygons.append(np.round(points, 3))
            instances[box][inside] = len(types)
            self._paint(density[box], inside, look, scale, rng, fields, shape, box, h_gain)

        sigma = rng.uniform(*self.blur_um) * scale
        density = cv2.GaussianBlur(density.astype(np.float32), (0, 0), sigma)
        image = 255.0 * np.exp(-density) + rng.normal(0, 3, density.shape)
        return RenderedNuclei(np.clip(image, 0, 255).astype(np.uint8), instances,
                              np.array(types, np.int64), polygons)

    @staticmethod
    def _paint(density: np.ndarray, inside: np.ndarray, look: NucleusLook, scale: float,
               rng: np.random.Generator, fields: Dict[float, np.ndarray],
               shape: Tuple[int, int], box: Tuple[slice, slice], h_gain: float) -> None:
        """Write one nucleus's optical densities into ``density`` (its box)."""
        if look.grain_um not in fields:  # one chromatin field per grain size and image
            fields[look.grain_um] = _smooth_field(rng, shape, look.grain_um * scale)
        grain = fields[look.grain_um][box][inside]
        amount = look.stain * (1 + look.texture * grain) * rng.uniform(0.92, 1.08)
        if look.rim or look.nucleolus:
            depth = cv2.distanceTransform(np.pad(inside, 1).astype(np.uint8), cv2.DIST_L2, 3)
            depth = depth[1:-1, 1:-1][inside] / scale  # um from the membrane
            if look.rim:
                amount = amount * (1 - 0.35 * look.rim * np.clip(depth / 1.5, 0, 1)
                                   + look.rim * np.exp(-depth / 0.5))
            if look.nucleolus:
                amount = amount + 1.2 * np.exp(-((depth - depth.max()) / 0.6) ** 2)
        amount = np.clip(amount, 0.05, None)[:, None]
        density[inside] = h_gain * amount * _HEMATOXYLIN + look.eosin * _EOSIN + 0.1 * _EOSIN


def write_nuclei_downloads(root: str, seed: int = 0, pannuke_patches: int = 32,
                           consep_images=(12, 4), consep_size: int = 512,
                           monusac_patients=(6, 2), monusac_size: int = 508,
                           appearance: Optional[NucleiAppearance] = None) -> Dict[str, str]:
    """The three synthetic downloads over one hidden set of types, under
    ``root/{PanNuke,CoNSeP,MoNuSAC}``, each at its native um/px.

    Args:
        pannuke_patches: 256 px patches in each of folds 1, 2, 3 (fold 1
            also holds one patch per quirk of the download).
        consep_images: Images in ``Train/`` and ``Test/`` (``consep_size`` px).
        monusac_patients: Training and test patients (two images per slide
            folder, the first patient of each with two slides; ``monusac_size`` px).
        appearance: The hidden types (default :class:`NucleiAppearance`).

    Returns:
        ``{dataset: folder}``.
    """
    from .downloads.consep import write_consep_raw
    from .downloads.monusac import write_monusac_raw
    from .downloads.pannuke import write_pannuke_raw
    appearance = appearance or NucleiAppearance()
    out = {name: osp.join(root, folder) for name, folder in
           (('pannuke', 'PanNuke'), ('consep', 'CoNSeP'), ('monusac', 'MoNuSAC'))}
    write_pannuke_raw(out['pannuke'], patches=pannuke_patches, size=256, seed=seed,
                      appearance=appearance)
    write_consep_raw(out['consep'], n_train=consep_images[0], n_test=consep_images[1],
                     shape=(consep_size, consep_size), seed=seed + 10, appearance=appearance)
    write_monusac_raw(out['monusac'], train_patients=monusac_patients[0],
                      test_patients=monusac_patients[1], shape=(monusac_size, monusac_size),
                      seed=seed + 20, appearance=appearance)
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description='Write synthetic PanNuke, CoNSeP and MoNuSAC '
                                     'downloads over one hidden set of nucleus types.')
    parser.add_argument('root', help='output folder (gets PanNuke/, CoNSeP/, MoNuSAC/)')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    for name, folder in write_nuclei_downloads(args.root, seed=args.seed).items():
        print(f'  {name:<8} -> {folder}')


if __name__ == '__main__':
    main()
