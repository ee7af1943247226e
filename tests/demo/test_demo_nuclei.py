"""The typed-nuclei demo (make demo-nuclei): the hidden nucleus types look
different by type and are drawn deterministically; each synthetic download
labels them through its own label set; the panel and the tables; the demo's
configs; and (slow) the whole demo through scripts/demo_nuclei.sh."""
import csv
import json
import os
import os.path as osp
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import scipy.io
from mmengine.config import Config
from PIL import Image
from skimage.draw import polygon2mask

from crossspec_mmseg.converters.consep import CONSEP_MPP
from crossspec_mmseg.converters.pannuke import PANNUKE_MPP
from crossspec_mmseg.demo.downloads.consep import write_consep_raw
from crossspec_mmseg.demo.downloads.monusac import (
    CLASS_NAMES,
    MONUSAC_MPP,
    TRAIN_FOLDER,
    write_monusac_raw,
)
from crossspec_mmseg.demo.downloads.pannuke import pannuke_paths, write_pannuke_raw
from crossspec_mmseg.demo.nuclei_appearance import (
    HIDDEN_TYPES,
    NucleiAppearance,
    dataset_labels,
)
from crossspec_mmseg.demo.nuclei_panel import (
    NODE_COLOURS,
    class_columns,
    format_tables,
    write_panel,
)
from crossspec_mmseg.evaluation.nuclei_npy import to_npy_layout
from crossspec_mmseg.structures import nucleus_label_offset
from helpers import REPO

NAMES = list(HIDDEN_TYPES)


def _type_stats(mpp, images=3, size=256):
    """Per hidden type: median area (px), median grey level and median
    elongation (major / minor axis from the moments) of its nuclei."""
    appearance = NucleiAppearance()
    rng = np.random.default_rng(0)
    stats = {name: dict(area=[], grey=[], elong=[]) for name in NAMES}
    for _ in range(images):
        drawn = appearance.render(rng, (size, size), mpp)
        grey = drawn.image.mean(-1)
        for k, kind in enumerate(drawn.types, start=1):
            ys, xs = np.nonzero(drawn.instances == k)
            eig = np.linalg.eigvalsh(np.cov(np.stack([xs, ys])))
            s = stats[NAMES[kind]]
            s['area'].append(len(xs))
            s['grey'].append(grey[ys, xs].mean())
            s['elong'].append(np.sqrt(eig[1] / max(eig[0], 1e-6)))
    return {n: {k: float(np.median(v)) for k, v in s.items()}
            for n, s in stats.items() if s['area']}


def test_hidden_types_differ_in_size_shape_and_stain():
    stats = _type_stats(0.5, images=4)
    assert set(stats) == set(NAMES)  # every type drawn
    lym, epi, neo = stats['lymphocyte'], stats['normal_epithelial'], stats['neoplastic_epithelial']
    assert lym['area'] < 0.6 * epi['area'] and epi['area'] < 0.7 * neo['area']  # size
    assert lym['grey'] < epi['grey'] - 20 and epi['grey'] < neo['grey'] - 10  # stain
    assert stats['macrophage']['grey'] > lym['grey'] + 30
    for spindle in ('fibroblast', 'muscle', 'endothelial'):  # shape
        assert stats[spindle]['elong'] > 2.5, spindle
    for round_ in ('lymphocyte', 'neoplastic_epithelial', 'neutrophil'):
        assert stats[round_]['elong'] < 1.5, round_
    # sizes are in um: at 0.25 um/px a nucleus covers four times the pixels
    fine = _type_stats(0.25, images=1, size=512)
    assert fine['lymphocyte']['area'] == pytest.approx(4 * lym['area'], rel=0.25)


def test_render_is_deterministic_and_consistent():
    appearance = NucleiAppearance()
    a, b, c = (appearance.render(np.random.default_rng(s), (96, 128), 0.5) for s in (3, 3, 4))
    assert np.array_equal(a.image, b.image) and np.array_equal(a.instances, b.instances)
    assert np.array_equal(a.types, b.types)
    assert not np.array_equal(a.image, c.image)
    assert a.image.shape == (96, 128, 3) and a.image.dtype == np.uint8
    n = len(a.types)
    assert n > 5 and len(a.polygons) == n
    assert set(np.unique(a.instances)) == set(range(n + 1))  # ids 1..N, each present
    for k, points in enumerate(a.polygons, start=1):  # the outline is the nucleus
        assert np.array_equal(polygon2mask(a.instances.shape, points[:, ::-1]),
                              a.instances == k), k


def test_dataset_labels_follow_the_tree():
    labels = {d: dict(zip(NAMES, dataset_labels(d))) for d in ('pannuke', 'consep', 'monusac')}
    assert labels['pannuke'] == dict(
        neoplastic_epithelial=1, normal_epithelial=5, lymphocyte=2, neutrophil=2, macrophage=2,
        fibroblast=3, muscle=3, endothelial=3, necrotic=4)
    assert labels['consep'] == dict(
        neoplastic_epithelial=4, normal_epithelial=3, lymphocyte=2, neutrophil=2, macrophage=2,
        fibroblast=5, muscle=6, endothelial=7, necrotic=1)
    assert labels['monusac'] == dict(  # MoNuSAC leaves the stroma and necrosis unlabelled
        neoplastic_epithelial=1, normal_epithelial=1, lymphocyte=2, neutrophil=3, macrophage=4,
        fibroblast=0, muscle=0, endothelial=0, necrotic=0)


def test_each_download_labels_the_hidden_types_its_own_way(tmp_path):
    """The first image of each writer is the appearance's first drawing from
    the seed, labelled through the dataset's own classes."""
    appearance = NucleiAppearance()
    write_pannuke_raw(str(tmp_path / 'pannuke'), patches=1, size=128, folds=(1,), seed=5,
                      appearance=appearance)
    drawn = appearance.render(np.random.default_rng(5), (128, 128), PANNUKE_MPP)
    paths = pannuke_paths(str(tmp_path / 'pannuke'), 1)
    image, masks = np.load(paths['images'])[0], np.load(paths['masks'])[0]
    assert np.array_equal(image, drawn.image.astype(np.float64))
    expected = dataset_labels('pannuke')[drawn.types]
    for k, label in enumerate(expected, start=1):
        inside = drawn.instances == k
        assert set(np.nonzero(masks[inside][:, :5].max(0))[0]) == {label - 1}
    assert np.array_equal(masks[..., 5] > 0, drawn.instances == 0)

    write_consep_raw(str(tmp_path / 'consep'), n_train=1, n_test=1, shape=(96, 112), seed=6,
                     appearance=appearance)
    drawn = appearance.render(np.random.default_rng(6), (96, 112), CONSEP_MPP)
    mat = scipy.io.loadmat(str(tmp_path / 'consep' / 'Train' / 'Labels' / 'train_1.mat'))
    assert np.array_equal(mat['inst_map'], drawn.instances)
    assert np.array_equal(mat['inst_type'].ravel(), dataset_labels('consep')[drawn.types])

    write_monusac_raw(str(tmp_path / 'monusac'), train_patients=1, test_patients=1,
                      images_per_slide=1, shape=(96, 96), seed=7, appearance=appearance)
    drawn = appearance.render(np.random.default_rng(7), (96, 96), MONUSAC_MPP)
    slide = sorted(os.listdir(tmp_path / 'monusac' / TRAIN_FOLDER))[0]
    root = ET.parse(str(tmp_path / 'monusac' / TRAIN_FOLDER / slide / f'{slide}_001.xml'))
    found = {}
    for ann in root.iter('Annotation'):
        name = ann.find('Attributes/Attribute').get('Name')
        found[name] = len(ann.findall('Regions/Region'))
    label_of = dataset_labels('monusac')[drawn.types]
    assert found == {name: int((label_of == i).sum()) for i, name in enumerate(CLASS_NAMES, 1)}
    assert (label_of == 0).any()  # nuclei drawn that MoNuSAC leaves in its background


def _npy_run(folder, dataset, instances, types, num_types):
    os.makedirs(folder / dataset)
    rows = [to_npy_layout(i, t, num_types, 'conic') for i, t in zip(instances, types)]
    np.save(folder / dataset / 'pred.npy', np.stack(rows))
    np.save(folder / dataset / 'true.npy', np.stack(rows))
    return folder


def test_panel_shows_each_run_coloured_by_type(tmp_path):
    tile = np.full((32, 40, 3), 200, np.uint8)
    Image.fromarray(tile).save(tmp_path / 'tile.png')
    instances = np.zeros((32, 40), np.int32)
    instances[4:14, 4:14], instances[18:28, 20:34] = 1, 2
    runs = {}
    # CoNSeP ids: 2 inflammatory, 4 malignant epithelial, 5 fibroblast
    for name, types in (('B alone', [2, 5]), ('A then B', [4, 5])):
        folder = _npy_run(tmp_path / name, 'consep', [instances] * 3, [types] * 3, 7)
        for dataset in ('consep',):
            with open(folder / dataset / 'images.csv', 'w', newline='') as f:
                csv.writer(f).writerows([['row', 'image']] + [[i, str(tmp_path / 'tile.png')]
                                                              for i in range(3)])
        runs[name] = str(folder)
    out = write_panel(str(tmp_path / 'panel.png'), runs, tiles=2, scale=2)
    with Image.open(out) as im:
        panel = np.asarray(im.convert('RGB'))
    # 2 rows (tiles 0 and 2) of image / truth / 2 runs, a header, labels and a legend
    gap, head, side, legend = 4, 18, 120, 150
    assert panel.shape == (head + 2 * (64 + gap), side + 4 * (80 + gap) + legend, 3)
    top, cell = head, lambda c: side + c * (80 + gap)
    assert np.array_equal(panel[top:top + 64, cell(0):cell(0) + 80], np.full((64, 80, 3), 200))
    # nucleus 1's outline in its type's colour: truth and first run immune, then neoplastic
    for column, node in ((1, 'immune'), (2, 'immune'), (3, 'neoplastic_epithelial')):
        assert tuple(panel[top + 8, cell(column) + 8 + 4]) == NODE_COLOURS[node]
    inner = panel[top + 16, cell(2) + 16]  # inside: the tile tinted towards the colour
    assert np.allclose(inner, 0.6 * 200 + 0.4 * np.array(NODE_COLOURS['immune']), atol=1)
    # nucleus 2 (fibroblast in both)
    assert tuple(panel[top + 36, cell(3) + 40]) == NODE_COLOURS['fibroblast']
    # runs of other tiles are refused
    bad = _npy_run(tmp_path / 'bad', 'consep', [instances] * 2, [[2, 5]] * 2, 7)
    with open(bad / 'consep' / 'images.csv', 'w') as f:
        f.write('row,image\n0,x\n1,x\n')
    with pytest.raises(ValueError, match='same tiles'):
        write_panel(str(tmp_path / 'p2.png'), dict(runs, bad=str(bad)))


def test_tables_one_per_dataset_with_differences_to_the_baseline():
    base = {'dataset/consep/bPQ': 60.0, 'dataset/consep/mPQ': 20.0,
            'dataset/consep/PQ_fibroblast': 30.0, 'dataset/consep/PQ_immune': 10.0,
            'dataset/monusac/bPQ': 50.0, 'dataset/monusac/mPQ': 15.0,
            'dataset/monusac/PQ_lymphocyte': 40.0, 'dataset/consep/PQ': 1.0,
            'dataset/consep/PQ_img': 5.0, 'dataset/consep/PQ_img_std': 1.0}
    other = dict(base, **{'dataset/consep/bPQ': 62.5, 'dataset/consep/PQ_immune': 7.25})
    del other['dataset/monusac/PQ_lymphocyte']
    text = format_tables({'B alone': base, 'A then B': other},
                         notes={'consep': 'B, 7 classes'})
    consep, monusac = text.split('\n\n')
    lines = consep.splitlines()
    assert lines[0] == 'CoNSeP (B, 7 classes): PQ in %, (difference to B alone)'
    # columns: bPQ, mPQ, then the classes in CoNSeP's order and names
    assert lines[1].split() == ['run', 'bPQ', 'mPQ', 'inflammatory', 'fibroblast']
    assert lines[2].split() == ['B', 'alone', '60.0', '20.0', '10.0', '30.0']
    assert re.sub(r'\s+', ' ', lines[3].strip()) == (
        'A then B 62.5 (+2.5) 20.0 (+0.0) 7.2 (-2.8) 30.0 (+0.0)')
    assert monusac.splitlines()[0].startswith('MoNuSAC: ')
    assert monusac.splitlines()[-1].split()[-1] == '-'  # a class a run lacks
    assert class_columns(base, 'consep') == ['PQ_immune', 'PQ_fibroblast']
    with pytest.raises(KeyError):
        format_tables({'a': base}, baseline='b')


DEMO = {'consep': 'nuclei_consep', 'pannuke': 'nuclei_pannuke',
        'then': 'nuclei_pannuke-then-consep'}


def _demo_config(name):
    return Config.fromfile(osp.join(REPO, 'configs', 'demo', f'{DEMO[name]}.py'))


def test_demo_configs_are_route_a_shrunk():
    configs = {name: _demo_config(name) for name in DEMO}
    route_a = Config.fromfile(osp.join(REPO, 'configs', 'nuclei',
                                       'contour_deeplabv3plus_consep.py'))
    for name, cfg in configs.items():
        model = cfg.model
        assert model.type == 'CrossSpeciesEncoderDecoder' and model.pretrained is None
        assert model.instance_postprocess == route_a.model.instance_postprocess
        assert model.decode_head.loss_decode == route_a.model.decode_head.loss_decode
        assert model.decode_head.num_classes == 15 and not model.get('frozen_modules')
        assert model.backbone.depth == 18 and model.backbone.base_channels == 32
        assert cfg.test_evaluator == route_a.test_evaluator
        assert cfg.train_dataloader.dataset.pipeline == route_a.train_dataloader.dataset.pipeline
        tests = cfg.test_dataloader.dataset.datasets
        assert [(d.type, d.data_root, d.label_offset) for d in tests] == [
            (f'{t}Dataset', f'data/demo_nuclei/{n}', nucleus_label_offset(n))
            for t, n in (('PanNuke', 'pannuke'), ('CoNSeP', 'consep'), ('MoNuSAC', 'monusac'))]
        for loader in ('train_dataloader', 'val_dataloader'):
            part = cfg[loader].dataset
            dataset = 'pannuke' if name == 'pannuke' else 'consep'
            assert part.data_root == f'data/demo_nuclei/{dataset}'
            assert part.label_offset == nucleus_label_offset(dataset)
        filters = cfg.train_dataloader.dataset.filters
        assert filters == (dict(fold='fold1', mpp='0.5') if name == 'pannuke'
                           else dict(split='train', mpp='0.5'))
        assert cfg.param_scheduler[-1].end == cfg.train_cfg.max_iters
    # the baseline trains as many iterations as A then B together
    assert configs['consep'].train_cfg.max_iters == (
        configs['pannuke'].train_cfg.max_iters + configs['then'].train_cfg.max_iters)
    (hook,) = configs['then'].custom_hooks
    assert hook.type == 'InitFromStageHook' and hook.work_dir == 'work_dirs/nuclei_pannuke'
    assert osp.isfile(osp.join(REPO, hook.config))


def test_demo_script_and_make_target():
    subprocess.run(['bash', '-n', osp.join(REPO, 'scripts', 'demo_nuclei.sh')], check=True)
    makefile = open(osp.join(REPO, 'Makefile')).read()
    assert re.search(r'^demo-nuclei: install\n\tbash scripts/demo_nuclei.sh$', makefile, re.M)
    clean = re.search(r'^clean-demo:\n\t(.*)$', makefile, re.M).group(1)
    assert 'data/demo_nuclei' in clean and 'work_dirs/demo_nuclei' in clean


@pytest.mark.slow
def test_demo_nuclei_runs_end_to_end(tmp_path):
    """scripts/demo_nuclei.sh in a scratch copy of the layout (its data and work
    dirs land there): one table per dataset, the panel, within 10 minutes on
    2 cores (the time is printed; a loaded machine can take longer)."""
    for folder in ('configs', 'tools', 'crossspec_mmseg'):
        os.symlink(osp.join(REPO, folder), tmp_path / folder)
    (tmp_path / 'scripts').mkdir()
    script = tmp_path / 'scripts' / 'demo_nuclei.sh'
    script.write_text(open(osp.join(REPO, 'scripts', 'demo_nuclei.sh')).read())
    start = time.time()
    proc = subprocess.run(['bash', str(script)], cwd=str(tmp_path), capture_output=True,
                          text=True, timeout=1800, env=dict(os.environ, PY=sys.executable))
    took = time.time() - start
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    print(out, f'\n(demo took {took:.0f} s)')
    for title in ('PanNuke (', 'CoNSeP (', 'MoNuSAC ('):
        assert title in out
    assert out.count('A then B ') >= 3 and 'demo finished in' in out
    work = tmp_path / 'work_dirs' / 'demo_nuclei'
    metrics = json.load(open(work / 'nuclei_pannuke-then-consep' / 'metrics.json'))
    assert {'dataset/consep/mPQ', 'dataset/pannuke/bPQ', 'dataset/monusac/mPQ'} <= set(metrics)
    with Image.open(work / 'panel.png') as im:
        assert im.size[0] > 5 * 256 and im.size[1] > 6 * 256
    # a second run keeps every finished step
    again = subprocess.run(['bash', str(script)], cwd=str(tmp_path), capture_output=True,
                           text=True, timeout=600, env=dict(os.environ, PY=sys.executable))
    assert again.returncode == 0 and again.stdout.count('already trained') == 3
