"""Stain transforms: HED jitter against scikit-image, Macenko against known stains
and the published steps, Reinhard statistics, targets, pipelines and configs."""
import json
import os.path as osp

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope
from mmengine.runner import set_random_seed
from skimage.color import hed2rgb, rgb2hed

from crossspec_mmseg.datasets import RandomHEDJitter, StainNormalize
from crossspec_mmseg.datasets.transforms import (
    StainTargetError,
    fit_stain_target,
    load_stain_target,
)
from crossspec_mmseg.datasets.transforms.stain_ops import (
    hed_jitter,
    lab_image,
    macenko_normalize,
    macenko_stain_matrix,
    optical_density,
)
from helpers import TINY_CONFIG

#: Two H&E stain matrices (rows H, E; RGB OD), unit rows.
STAINS_A = np.array([[0.65, 0.70, 0.29], [0.07, 0.99, 0.11]])
STAINS_B = np.array([[0.55, 0.75, 0.37], [0.20, 0.90, 0.38]])
STAINS_A /= np.linalg.norm(STAINS_A, axis=1, keepdims=True)
STAINS_B /= np.linalg.norm(STAINS_B, axis=1, keepdims=True)


def stained_tile(stains, size=128, seed=0, io=240.0, background=0.3):
    """uint8 BGR tile with known stains: OD = C @ stains, RGB = Io exp(-OD)."""
    rng = np.random.default_rng(seed)
    conc = np.stack([rng.gamma(2, 0.35, (size, size)), rng.gamma(2, 0.25, (size, size))], -1)
    conc[rng.random((size, size)) < background] = 0
    rgb = np.clip(np.round(io * np.exp(-conc @ stains)), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(rgb[..., ::-1])


def hed_tile(size=64, seed=0):
    """uint8 RGB tile with non-negative H, E, DAB (scikit-image units)."""
    rng = np.random.default_rng(seed)
    hed = rng.uniform(0, 1, (size, size, 3)) * [0.08, 0.06, 0.01]
    return np.round(hed2rgb(hed) * 255).astype(np.uint8)


def skimage_jitter(rgb, alpha, beta):
    """The jitter computed with scikit-image (RGB in, RGB out)."""
    return np.round(hed2rgb(rgb2hed(rgb) * alpha + beta) * 255).astype(np.uint8)


def cosines(a, b):
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    return np.sum(a * b / np.linalg.norm(b, axis=1, keepdims=True), axis=1)


def max_diff(a, b):
    return np.abs(a.astype(int) - b.astype(int)).max()


# HED jitter


def test_hed_round_trip_every_colour():
    img = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    assert max_diff(hed_jitter(img, np.ones(3), np.zeros(3)), img) <= 1
    out = RandomHEDJitter(sigma=0, bias=0, prob=1)(dict(img=img.copy()))['img']
    assert out.dtype == np.uint8 and max_diff(out, img) <= 1


def test_hed_jitter_equals_skimage_on_the_same_draws():
    rgb = hed_tile()
    np.random.seed(3)
    out = RandomHEDJitter(sigma=0.2, bias=0.01, prob=1)(dict(img=rgb[..., ::-1].copy()))['img']
    np.random.seed(3)
    np.random.rand()  # the prob draw
    alpha, beta = np.random.uniform(0.8, 1.2, 3), np.random.uniform(-0.01, 0.01, 3)
    expected = skimage_jitter(rgb, alpha, beta)
    assert max_diff(out[..., ::-1], expected) <= 1
    assert max_diff(out[..., ::-1], rgb) > 5  # the draw did change the image


def test_hed_jitter_reads_bgr():
    rgb = np.zeros((4, 4, 3), np.uint8)
    rgb[:] = (186, 96, 210)  # one colour (H 0.03, E 0.05): R and B differ, both stains > 0
    alpha, beta = np.array([1.3, 0.9, 1.0]), np.array([0.0, 0.005, 0.0])
    expected = skimage_jitter(rgb, alpha, beta)
    assert max_diff(hed_jitter(rgb[..., ::-1].copy(), alpha, beta)[..., ::-1], expected) <= 1
    assert max_diff(hed_jitter(rgb, alpha, beta), expected) > 5  # RGB taken as BGR is wrong


def test_hed_jitter_seeded():
    img = cv2.cvtColor(hed_tile(), cv2.COLOR_RGB2BGR)
    jitter = RandomHEDJitter(sigma=0.1, bias=0.01, prob=1)

    def run(seed):
        set_random_seed(seed)
        return jitter(dict(img=img.copy()))['img']
    assert np.array_equal(run(0), run(0))
    assert not np.array_equal(run(0), run(1))
    assert np.array_equal(RandomHEDJitter(prob=0)(dict(img=img.copy()))['img'], img)


def test_hed_jitter_rejects_bad_parameters_and_images():
    with pytest.raises(ValueError, match='prob'):
        RandomHEDJitter(prob=1.5)
    with pytest.raises(ValueError, match='needs a uint8 BGR image.*float32.*tile.png'):
        RandomHEDJitter(prob=1)(dict(img=np.zeros((4, 4, 3), np.float32), img_path='tile.png'))


# Macenko


def test_macenko_recovers_known_stains():
    od = optical_density(stained_tile(STAINS_A), 240).reshape(-1, 3)
    assert (cosines(macenko_stain_matrix(od), STAINS_A) > 0.99).all()


def test_macenko_normalises_to_target_stains():
    target = fit_stain_target([stained_tile(STAINS_B, seed=1)], 'macenko')
    assert (cosines(np.array(target['stain_matrix']), STAINS_B) > 0.99).all()
    out = StainNormalize(target)(dict(img=stained_tile(STAINS_A)))['img']
    od = optical_density(out, 240).reshape(-1, 3)
    assert (cosines(macenko_stain_matrix(od), STAINS_B) > 0.99).all()
    assert (cosines(macenko_stain_matrix(od), STAINS_A) < 0.99).any()


def published_macenko(bgr, stains_ref, max_ref, io=240, alpha=1, beta=0.15):
    """Macenko et al. 2009 step by step (float64, RGB), as the common reference
    implementation writes it, the output saturated to 0..255 and rounded."""
    rgb = bgr[..., ::-1].reshape(-1, 3).astype(float)
    od = -np.log((rgb + 1) / io)
    od_hat = od[~np.any(od < beta, axis=1)]
    _, eigvecs = np.linalg.eigh(np.cov(od_hat.T))
    t_hat = od_hat @ eigvecs[:, 1:3]
    phi = np.arctan2(t_hat[:, 1], t_hat[:, 0])
    min_phi, max_phi = np.percentile(phi, alpha), np.percentile(phi, 100 - alpha)
    v_min = eigvecs[:, 1:3] @ np.array([np.cos(min_phi), np.sin(min_phi)])
    v_max = eigvecs[:, 1:3] @ np.array([np.cos(max_phi), np.sin(max_phi)])
    he = np.array([v_min, v_max]).T if v_min[0] > v_max[0] else np.array([v_max, v_min]).T
    conc = np.linalg.lstsq(he, od.T, rcond=None)[0]
    max_c = np.percentile(conc, 99, axis=1)
    conc *= (np.asarray(max_ref) / max_c)[:, None]
    norm = np.clip(io * np.exp(-np.asarray(stains_ref).T @ conc), 0, 255)
    return np.round(norm.T).reshape(bgr.shape)[..., ::-1].astype(np.uint8)


def test_macenko_matches_the_published_steps():
    target = fit_stain_target([stained_tile(STAINS_B, seed=1)], 'macenko')
    img = stained_tile(STAINS_A, seed=2)
    ours = macenko_normalize(img, target['stain_matrix'], target['max_concentrations'])
    expected = published_macenko(img, target['stain_matrix'], target['max_concentrations'])
    assert max_diff(ours, expected) <= 1
    assert max_diff(ours, img) > 10


def test_macenko_leaves_too_little_tissue_unchanged():
    target = fit_stain_target([stained_tile(STAINS_B)], 'macenko')
    blank = stained_tile(STAINS_A, background=0.995)  # ~80 tissue pixels
    assert StainNormalize(target)(dict(img=blank))['img'] is blank
    sparse = stained_tile(STAINS_A, background=0.97)  # ~490 tissue pixels
    assert StainNormalize(target, min_tissue_pixels=1000)(dict(img=sparse))['img'] is sparse
    assert max_diff(StainNormalize(target)(dict(img=sparse))['img'], sparse) > 10
    one_stain = stained_tile(np.stack([STAINS_A[0], STAINS_A[0]]), background=0)
    assert StainNormalize(target)(dict(img=one_stain))['img'] is one_stain


def test_macenko_fit_refuses_blank_references():
    with pytest.raises(StainTargetError, match='too little tissue'):
        fit_stain_target([np.full((32, 32, 3), 250, np.uint8)], 'macenko')


# Reinhard


def test_reinhard_matches_target_lab_statistics():
    reference = stained_tile(STAINS_B, seed=1)
    target = fit_stain_target([reference[:64], reference[64:]], 'reinhard')
    lab = lab_image(reference).reshape(-1, 3).astype(float)
    np.testing.assert_allclose(target['mean'], lab.mean(0), atol=1e-4)
    np.testing.assert_allclose(target['std'], lab.std(0), atol=1e-4)
    out = StainNormalize(target, method='reinhard')(dict(img=stained_tile(STAINS_A)))['img']
    lab = lab_image(out).reshape(-1, 3)
    np.testing.assert_allclose(lab.mean(0), target['mean'], atol=1.0)
    np.testing.assert_allclose(lab.std(0), target['std'], atol=1.0)


# Targets


def test_target_errors_name_the_file(tmp_path):
    missing = str(tmp_path / 'nowhere.json')
    with pytest.raises(StainTargetError, match=f'{missing} not found.*fit_stain.py'):
        StainNormalize(missing)
    broken = tmp_path / 'broken.json'
    broken.write_text('{"method": "macenko", ')
    with pytest.raises(StainTargetError, match=f'{broken} is not a readable JSON'):
        StainNormalize(str(broken))
    reinhard = tmp_path / 'reinhard.json'
    reinhard.write_text(json.dumps(dict(method='reinhard', mean=[1, 2, 3], std=[1, 1, 1])))
    with pytest.raises(StainTargetError, match=f"{reinhard} holds method 'reinhard'"):
        StainNormalize(str(reinhard), method='macenko')
    short = tmp_path / 'short.json'
    short.write_text(json.dumps(dict(method='reinhard', mean=[1, 2], std=[1, 1, 1])))
    with pytest.raises(StainTargetError, match=f"{short}: 'mean' must be 3 finite"):
        load_stain_target(str(short), 'reinhard')
    with pytest.raises(StainTargetError, match="inline stain target: 'io' must be a positive"):
        StainNormalize(dict(method='macenko', stain_matrix=STAINS_A.tolist(),
                            max_concentrations=[1, 1], io='240'))


def test_target_read_once_from_json(tmp_path):
    path = tmp_path / 'target.json'
    path.write_text(json.dumps(fit_stain_target([stained_tile(STAINS_B)], 'macenko')))
    transform = StainNormalize(str(path))
    path.unlink()
    assert transform(dict(img=stained_tile(STAINS_A)))['img'].dtype == np.uint8
    assert 'target.json' in repr(transform)


# In MMSeg pipelines and configs


def test_in_a_loading_pipeline(tmp_path):
    init_default_scope('mmseg')
    tile = stained_tile(STAINS_A)
    cv2.imwrite(str(tmp_path / 'tile.png'), tile)
    target = fit_stain_target([stained_tile(STAINS_B, seed=1)], 'macenko')
    pipeline = Compose([dict(type='LoadImageFromFile'),
                        dict(type='StainNormalize', target=target),
                        dict(type='RandomHEDJitter', sigma=0, bias=0, prob=1)])
    out = pipeline(dict(img_path=str(tmp_path / 'tile.png')))['img']
    assert max_diff(out, macenko_normalize(tile, target['stain_matrix'],
                                           target['max_concentrations'])) <= 1


def test_config_hed_option_builds_a_dataset(tmp_path, demo_data, monkeypatch):
    from mmseg.registry import DATASETS
    monkeypatch.setenv('CROSSSPEC_DATA', demo_data)
    config = tmp_path / 'tiny_hed.py'
    config.write_text(f'_base_ = [{TINY_CONFIG!r}]\ntrain_dataloader = dict(dataset=dict('
                      'pipeline={{_base_.train_pipeline_hed}}))\n')
    cfg = Config.fromfile(str(config))
    default = Config.fromfile(TINY_CONFIG)
    assert 'RandomHEDJitter' not in [t['type'] for t in default.train_dataloader.dataset.pipeline]
    init_default_scope('mmseg')
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    assert any(isinstance(t, RandomHEDJitter) for t in dataset.pipeline.transforms)
    sample = dataset[0]
    assert sample['inputs'].shape[0] == 3 and osp.isfile(sample['data_samples'].img_path)
