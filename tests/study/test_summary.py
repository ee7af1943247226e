"""Study files are checked; a study's statistics on fake scores match scipy."""
import json
import os
import os.path as osp

import numpy as np
import pytest
from scipy import stats

from crossspec_mmseg.study import load_study
from crossspec_mmseg.study.summary import collect_scores, markdown_table, summarize
from helpers import REPO

STUDY = osp.join(REPO, 'tests', 'configs', 'tiny_study.py')


def write_study(tmp_path, runs, **fields):
    lines = [f'{k} = {v!r}' for k, v in dict(work_dir=str(tmp_path / 'w'), **fields).items()]
    path = tmp_path / 'study.py'
    path.write_text('\n'.join(lines + [f'runs = {runs!r}']) + '\n')
    return str(path)


def test_bad_study_files_are_named(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    sep = dict(model='m', arm='separate', config='configs/demo/demo_separate.py')
    comb = dict(model='n', arm='combined', config='configs/demo/demo_combined.py')
    cases = {
        'no runs': ([], {}),
        "baseline arm 'separate' has no run for models \\['n'\\]": ([sep, comb], {}),
        'listed twice': ([sep, sep], {}),
        'does not exist': ([dict(sep, config='configs/demo/nope.py')], {}),
        'needs model, arm, config': ([dict(model='m', config='x')], {}),
    }
    for message, (runs, fields) in cases.items():
        path = write_study(tmp_path, runs, baseline='separate', **fields)
        with pytest.raises(ValueError, match=message) as err:
            load_study(path)
        assert path in str(err.value)


def fake_scores(study, rng):
    """A metrics.json per cell: human Dice 80 + arm gain + fold noise."""
    written = {}
    for cell in study.cells():
        gain = 0.0 if cell.run.arm == 'separate' else 3.0
        dice = 80 + gain + rng.normal(0, 2)
        metrics = {'species/human/Dice.nucleus': dice, 'species/human/mIoU': dice - 10,
                   'species/mouse/Dice.nucleus': 70 + rng.normal(0, 1), 'mIoU': 60.0}
        os.makedirs(cell.work)
        with open(osp.join(cell.work, 'metrics.json'), 'w') as f:
            json.dump(metrics, f)
        written.setdefault(cell.run.arm, {})[cell.replicate] = dice
    return written


def test_statistics_on_fake_scores_match_scipy(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    study = load_study(STUDY)
    study.work_dir, study.k, study.seeds = str(tmp_path / 'w'), 4, [0, 1]
    dice = fake_scores(study, np.random.default_rng(3))
    summary = summarize(study, collect_scores(study))
    base, reg = dice['separate'], dice['pretrain > finetune + HED']
    assert len(base) == len(reg) == 8  # 4 folds x 2 seeds, paired by name
    reps = sorted(base)
    b, r = np.array([base[k] for k in reps]), np.array([reg[k] for k in reps])
    row = next(x for x in summary['runs'] if x['arm'] != 'separate')
    stats_ = row['groups']['species/human']['Dice']
    assert stats_['mean'] == pytest.approx(r.mean())
    assert stats_['std'] == pytest.approx(r.std(ddof=1))
    compared = stats_['vs_baseline']
    paired = stats.ttest_rel(r, b)
    assert compared['paired_p'] == pytest.approx(paired.pvalue)
    ci = paired.confidence_interval(0.95)
    assert compared['diff_ci95'] == pytest.approx([ci.low, ci.high])
    assert compared['one_sample_p'] == pytest.approx(stats.ttest_1samp(r, b.mean()).pvalue)
    assert compared['wins'] == int((r > b).sum())
    # Metrics absent from every cell have no column; the table has a row per run.
    assert 'PQ' not in row['groups']['species/human']
    table = markdown_table(summary)
    lines = table.splitlines()
    assert lines[0].startswith('| Model | Arm | human mIoU | human Dice | mouse Dice |')
    assert f'{r.mean():.1f} ± {r.std(ddof=1):.1f}' in lines[3]
    assert (f'{(r - b).mean():+.1f} [{ci.low:+.1f}, {ci.high:+.1f}], p={paired.pvalue:.3f}'
            in lines[3])


def test_a_study_without_its_data_stops_before_training(tmp_path, monkeypatch):
    from crossspec_mmseg.study import check_study
    monkeypatch.chdir(REPO)
    monkeypatch.setenv('CROSSSPEC_DATA', str(tmp_path / 'nowhere'))
    study = load_study(STUDY)
    with pytest.raises(FileNotFoundError, match='manifest not found: .*nowhere'):
        check_study(study)
    assert not os.path.exists(study.work_dir)


@pytest.mark.heavy
def test_glomeruli_study_folds_hubmap_slides_and_keeps_orbit_splits(zoo_data, monkeypatch):
    """The shipped glomeruli study on converted (synthetic) downloads: HuBMAP parts
    train and test on complementary slide folds; Orbit parts keep their own split."""
    from crossspec_mmseg.datasets import dataset_parts
    from crossspec_mmseg.study.plan import build_stage_config
    study = load_study(osp.join(REPO, 'studies', 'glomeruli.py'))
    study.k = 2  # the synthetic HuBMAP download has three slides
    monkeypatch.chdir(zoo_data)  # the study's data/hubmap, data/orbit
    cell = next(c for c in study.cells() if c.run.pretrain and c.fold == 1)
    stage1 = build_stage_config(study, cell, 'pretrain')
    stage2 = build_stage_config(study, cell, 'train', load_from='stage1.pth')
    assert stage2.load_from == 'stage1.pth'
    [orbit_train] = dataset_parts(stage1.train_dataloader.dataset)
    assert orbit_train.type == 'OrbitGlomeruliDataset' and orbit_train.filters == {'split': 'train'}
    [hubmap_train] = dataset_parts(stage2.train_dataloader.dataset)
    hubmap_test, orbit_test = dataset_parts(stage2.test_dataloader.dataset)
    held_out = hubmap_test.filters['case']
    assert hubmap_train.filters == {'!case': held_out} and held_out
    assert orbit_test.filters == {'split': 'test'}
