"""Cross-validation: the arms' statistics as hand-computed (the old compare_regimes
too); names moved to crossspec_mmseg.study still import from here, with a warning;
tools/cross_validate.py runs a ConcatDataset config's folds as a one-run study and
compares two runs."""
import json
import math
import os.path as osp

import numpy as np
import pytest

from crossspec_mmseg.evaluation import cross_validation
from crossspec_mmseg.evaluation.cross_validation import compare_arms, compare_regimes


def test_statistics_match_hand_computation():
    base = dict(fold0=80.0, fold1=82.0, fold2=79.0, fold3=81.0)
    reg = dict(fold0=83.0, fold1=84.5, fold2=80.0, fold3=83.5)
    result = compare_arms(base, reg)
    r = np.array(list(reg.values()))
    mu = np.mean(list(base.values()))
    t_one = (r.mean() - mu) / (r.std(ddof=1) / math.sqrt(len(r)))
    d = r - np.array(list(base.values()))
    t_paired = d.mean() / (d.std(ddof=1) / math.sqrt(len(d)))
    assert result['one_sample_t'] == pytest.approx(t_one)
    assert result['paired_t'] == pytest.approx(t_paired)
    assert 0 < result['paired_p'] < 0.05 and result['arm_mean'] == pytest.approx(82.75)
    with pytest.warns(DeprecationWarning, match='use compare_arms'):
        old = compare_regimes(base, reg)
    assert old == {k.replace('arm', 'regime', 1) if 'arm' in k else k: v
                   for k, v in result.items()} and 'regime_std' in old and 'n_regime' in old


@pytest.mark.parametrize('name, new', [
    ('group_folds', 'crossspec_mmseg.study.folds'),
    ('fold_filters', 'crossspec_mmseg.study.folds'),
    ('read_fold_scores', 'crossspec_mmseg.study.cross_validation')])
def test_moved_names_import_from_the_old_path_with_a_warning(name, new):
    import importlib
    with pytest.warns(DeprecationWarning, match=f'{name} moved to {new}.{name}') as w:
        value = getattr(cross_validation, name)
    assert value is getattr(importlib.import_module(new), name)
    assert w[0].filename == __file__  # the warning names the importing line
    with pytest.raises(AttributeError):
        cross_validation.compare_folds  # noqa: B018  (nothing else is forwarded)


def dataset_rows(dataset_cfg):
    """The image paths each part of a built dataset config holds (ConcatDataset parts too)."""
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS

    from crossspec_mmseg.datasets import dataset_parts
    init_default_scope('mmseg')
    datasets = [DATASETS.build(part) for part in dataset_parts(dataset_cfg)]
    return [{ds.get_data_info(i)['img_path'] for i in range(len(ds))} for ds in datasets]


def manifest_rows(root, **equal):
    """``{absolute image path (as datasets have it): row}`` of the rows of ``root``'s
    manifest with the ``equal`` values."""
    from crossspec_mmseg.datasets import read_manifest
    rows = read_manifest(osp.join(root, 'manifest.csv'))
    return {osp.abspath(osp.join(root, r['image'])): r for r in rows
            if all(r[k] == v for k, v in equal.items())}


@pytest.mark.heavy
def test_cli_cross_validates_a_concat_dataset_config_and_compares(zoo_data, tmp_path,
                                                                  monkeypatch):
    """The glomeruli homologous config (train and test: HuBMAP + Orbit, a
    ConcatDataset each): the folds split the HuBMAP slides (the training
    dataset's first manifest, by group: the default column); Orbit keeps its own
    split. Shrunk by --cfg-options (64 px, one iteration, three Orbit test tiles),
    in this process."""
    from mmengine.config import Config

    from helpers import REPO, run_tool
    monkeypatch.chdir(zoo_data)  # the config's data/hubmap, data/orbit
    work = str(tmp_path / 'cv')
    config = osp.join(REPO, 'configs', 'crossspec', 'glomeruli_segnext_homologous.py')
    loaders = [f'{loader}.{key}' for loader in ('train_dataloader', 'test_dataloader')
               for key in ('num_workers=0', 'persistent_workers=False')]
    proc = run_tool(['tools/cross_validate.py', 'run', config, '--work-dir', work, '--folds', '2',
                     '--no-pretrained', '--cfg-options', 'model.data_preprocessor.size=(64,64)',
                     'train_dataloader.batch_size=2', 'train_dataloader.sampler.batch_size=2',
                     'train_cfg.max_iters=1', 'default_hooks.checkpoint.interval=1',
                     'test_dataloader.dataset.datasets.1.indices=3', *loaders],
                    zoo_data, cwd=zoo_data, fresh=False)
    assert '2 folds; summary: ' in proc.stdout
    hubmap = manifest_rows(osp.join('data', 'hubmap'))
    orbit_train = manifest_rows(osp.join('data', 'orbit'), split='train')
    orbit_test = manifest_rows(osp.join('data', 'orbit'), split='test')  # 3 tested: indices
    summary = json.load(open(osp.join(work, 'cv_summary.json')))
    assert summary['config'] == config and sorted(summary['folds']) == ['fold0', 'fold1']
    trained, tested = [], []
    for k in (0, 1):
        cfg = Config.fromfile(osp.join(work, f'fold{k}', 'configs', 'train.py'))  # as it ran
        train_hubmap, train_orbit = dataset_rows(cfg.train_dataloader.dataset)
        test_hubmap, test_orbit = dataset_rows(cfg.test_dataloader.dataset)
        assert train_orbit == set(orbit_train)
        assert test_orbit < set(orbit_test) and len(test_orbit) == 3
        # Slides kept whole: a fold's HuBMAP test slides are in none of its training tiles.
        assert not {hubmap[p]['case'] for p in train_hubmap} & {
            hubmap[p]['case'] for p in test_hubmap}
        assert train_hubmap and test_hubmap
        trained.append(train_hubmap)
        tested.append(test_hubmap)
        metrics = json.load(open(osp.join(work, f'fold{k}', 'metrics.json')))
        assert summary['folds'][f'fold{k}'] == metrics
        assert metrics['n'] == len(test_hubmap) + len(test_orbit)  # what was tested
    # Each fold tested once, trained on the other fold's HuBMAP tiles exactly.
    assert tested[0] | tested[1] == set(hubmap) and not tested[0] & tested[1]
    assert trained[0] == tested[1] and trained[1] == tested[0]

    proc = run_tool(['tools/cross_validate.py', 'compare', work, work, '--metric',
                     'dataset/hubmap/mDice'], zoo_data, fresh=False)
    assert 'paired t-test over 2 matching folds' in proc.stdout
