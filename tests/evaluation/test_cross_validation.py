"""Cross-validation: folds keep groups whole; statistics as hand-computed; the CLI runs folds."""
import json
import math
import os.path as osp

import numpy as np
import pytest

from crossspec_mmseg.evaluation.cross_validation import compare_regimes, group_folds


def test_group_folds_keep_groups_whole_and_balanced():
    groups = [f'patient{i % 7}' for i in range(100)]
    folds = group_folds(groups, 3)
    assert set(folds) == {f'patient{i}' for i in range(7)} and set(folds.values()) == {0, 1, 2}
    sizes = np.bincount([folds[g] for g in groups])
    assert sizes.max() - sizes.min() <= 15  # 14-15 items per group
    with pytest.raises(ValueError, match='2 groups cannot make 3 folds'):
        group_folds(['a', 'b'], 3)


def test_statistics_match_hand_computation():
    base = dict(fold0=80.0, fold1=82.0, fold2=79.0, fold3=81.0)
    reg = dict(fold0=83.0, fold1=84.5, fold2=80.0, fold3=83.5)
    result = compare_regimes(base, reg)
    r = np.array(list(reg.values()))
    mu = np.mean(list(base.values()))
    t_one = (r.mean() - mu) / (r.std(ddof=1) / math.sqrt(len(r)))
    d = r - np.array(list(base.values()))
    t_paired = d.mean() / (d.std(ddof=1) / math.sqrt(len(d)))
    assert result['one_sample_t'] == pytest.approx(t_one)
    assert result['paired_t'] == pytest.approx(t_paired)
    assert 0 < result['paired_p'] < 0.05 and result['regime_mean'] == pytest.approx(82.75)


@pytest.mark.heavy
def test_cli_runs_folds_on_two_processes_and_compares(demo_data, tmp_path):
    """Each fold trained and tested by 2 processes (--gpus 2: torchrun, gloo on CPU)."""
    from helpers import TINY_CONFIG, run_tool
    work = str(tmp_path / 'cv')
    proc = run_tool(['tools/cross_validate.py', 'run', TINY_CONFIG, '--work-dir', work,
                     '--folds', '2', '--gpus', '2', '--cfg-options', 'train_cfg.max_iters=2'],
                    demo_data, timeout=600)
    assert proc.stdout.count('GPU number: 2') + proc.stderr.count('GPU number: 2') >= 2
    summary = json.load(open(osp.join(work, 'cv_summary.json')))
    assert sorted(summary['folds']) == ['fold0', 'fold1']
    n = [summary['folds'][f]['n'] for f in ('fold0', 'fold1')]
    assert all(x > 0 for x in n)
    for fold in ('fold0', 'fold1'):  # trained on the other fold only
        assert 'fold' in open(osp.join(work, fold, 'fold_config.py')).read()
    proc = run_tool(['tools/cross_validate.py', 'compare', work, work, '--metric',
                     'species/human/mDice'], demo_data, fresh=False)
    assert 'paired t-test over 2 matching folds' in proc.stdout
