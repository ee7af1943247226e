"""A tiny CoNSeP download in its distributed layout, with bad inputs on demand.

``Train|Test/Images/<split>_<k>.png`` (RGBA), ``Train|Test/Labels/<split>_<k>.mat``
(MATLAB v5: float ``inst_map``, ``type_map``, ``inst_type`` N x 1,
``inst_centroid`` N x 2) and an ``Overlay/`` folder the converter ignores.
"""
from __future__ import annotations

import os
import os.path as osp
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np
import scipy.io

from ...converters.consep import CONSEP_MPP
from ..nuclei_appearance import dataset_labels
from ..synthetic import SPECIES_STYLES, render_tissue

__all__ = ['CONSEP_FAULTS', 'write_consep_raw']

#: Faults :func:`write_consep_raw` can put into one image (name -> fault).
#: All are bad inputs except ``type_map_disagrees`` (a counted quirk).
CONSEP_FAULTS = ('truncated_png', 'missing_mat', 'not_mat', 'no_inst_map',
                 'fractional_inst_map', 'short_inst_type', 'bad_type', 'size_mismatch',
                 'type_map_disagrees')


def _labels(instances: np.ndarray, rng: np.random.Generator,
            types: Optional[np.ndarray] = None) -> Dict[str, np.ndarray]:
    """The ``.mat`` content for an instance map (ids 1..N, some maybe hidden);
    ``types``: the type of each id (random without)."""
    count = int(instances.max())
    if types is None:
        inst_type = rng.integers(1, 8, (count, 1)).astype(np.float64)
    else:
        inst_type = np.asarray(types, np.float64).reshape(count, 1)
    lut = np.concatenate([[0], inst_type[:, 0]]).astype(np.int32)
    centroids = np.zeros((count, 2))
    for k in range(1, count + 1):
        ys, xs = np.nonzero(instances == k)
        if len(xs):
            centroids[k - 1] = xs.mean(), ys.mean()
    return dict(inst_map=instances.astype(np.float64), type_map=lut[instances],
                inst_type=inst_type, inst_centroid=centroids)


def _apply_fault(fault: str, labels: Dict[str, np.ndarray]) -> None:
    """Damage ``labels`` in place as ``fault`` says (file faults are handled by the caller)."""
    inst = labels['inst_map']
    if fault == 'no_inst_map':
        del labels['inst_map']
    elif fault == 'fractional_inst_map':
        inst[np.nonzero(inst)[0][0], np.nonzero(inst)[1][0]] += 0.5
    elif fault == 'short_inst_type':
        labels['inst_type'] = labels['inst_type'][:-1]
    elif fault == 'bad_type':
        labels['inst_type'][0, 0] = 9
    elif fault == 'size_mismatch':
        labels['inst_map'] = inst[:-1]
        labels['type_map'] = labels['type_map'][:-1]
    elif fault == 'type_map_disagrees':
        first = inst == inst[inst > 0][0]
        labels['type_map'][first] = labels['type_map'][first] % 7 + 1


def write_consep_raw(root: str, n_train: int = 4, n_test: int = 2,
                     shape: Tuple[int, int] = (72, 88), seed: int = 0,
                     faults: Optional[Dict[str, str]] = None, appearance=None) -> List[str]:
    """Write the download under ``root``.

    Args:
        root: Output folder (the unpacked ``CoNSeP/``).
        n_train, n_test: Images in ``Train/`` and ``Test/``.
        shape: ``(height, width)`` of every image.
        seed: Random seed.
        faults: ``{image name: fault}``, faults from :data:`CONSEP_FAULTS`.
        appearance: A :class:`~crossspec_mmseg.demo.nuclei_appearance.NucleiAppearance`:
            the nuclei are its hidden types, drawn at CoNSeP's um/px, in
            CoNSeP's classes (None: random types on :func:`render_tissue`).

    Returns:
        The image names (``train_1`` ... ``test_k``).
    """
    faults = dict(faults or {})
    unknown = sorted(set(faults.values()) - set(CONSEP_FAULTS))
    if unknown:
        raise ValueError(f'unknown faults {unknown}; one of {CONSEP_FAULTS}')
    rng = np.random.default_rng(seed)
    height, width = shape
    names = []
    for folder, count in (('Train', n_train), ('Test', n_test)):
        for k in range(1, count + 1):
            name = f'{folder.lower()}_{k}'
            if appearance is None:
                image, instances = render_tissue(rng, SPECIES_STYLES['human'], max(shape))
                image, instances = image[:height, :width], instances[:height, :width]
                labels = _labels(instances.astype(np.int32), rng)
            else:
                drawn = appearance.render(rng, shape, CONSEP_MPP)
                image = drawn.image
                labels = _labels(drawn.instances, rng, dataset_labels('consep')[drawn.types])
            fault = faults.pop(name, '')
            _apply_fault(fault, labels)
            _write_png(osp.join(root, folder, 'Images', f'{name}.png'),
                       np.dstack([image, np.full(shape, 255, np.uint8)]),
                       truncate=fault == 'truncated_png')
            _write_png(osp.join(root, folder, 'Overlay', f'{name}.png'), image)
            mat = osp.join(root, folder, 'Labels', f'{name}.mat')
            os.makedirs(osp.dirname(mat), exist_ok=True)
            if fault == 'not_mat':
                with open(mat, 'wb') as f:
                    f.write(b'MATLAB 5.0 MAT-file, truncated')
            elif fault != 'missing_mat':
                scipy.io.savemat(mat, labels)
            names.append(name)
    if faults:
        raise ValueError(f'faults for images not written: {sorted(faults)}')
    return names


def _write_png(path: str, image: np.ndarray, truncate: bool = False) -> None:
    """RGB(A) ``image`` as a PNG (cut in half with ``truncate``)."""
    os.makedirs(osp.dirname(path), exist_ok=True)
    order = [2, 1, 0, 3][:image.shape[2]]
    ok, data = cv2.imencode('.png', image[..., order])
    if not ok:
        raise OSError(f'could not encode {path}')
    data = data.tobytes()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2] if truncate else data)
