"""tools/run_study.py end to end: a 2-iteration study (human only vs mouse
pre-training -> human fine-tuning with HED jitter, 2 folds) is listed, trained,
tested, resumed after an interruption and summarised."""
import json
import os
import os.path as osp

import pytest
from mmengine.config import Config

from helpers import run_tool

STUDY = osp.join('tests', 'configs', 'tiny_study.py')


@pytest.mark.heavy
def test_smoke_study_runs_resumes_and_reports(demo_data, tmp_path):
    work = str(tmp_path / 'study')
    proc = run_tool(['tools/run_study.py', STUDY, '--work-dir', work, '--dry-run'], demo_data,
                    fresh=False)
    assert '4 cells' in proc.stdout and proc.stdout.count('pretrain -> train') == 2
    assert not osp.exists(work)

    run_tool(['tools/run_study.py', STUDY, '--work-dir', work], demo_data, fresh=False)
    summary = json.load(open(osp.join(work, 'study.json')))
    assert [(r['arm'], r['n']) for r in summary['runs']] == [
        ('separate', 2), ('pretrain > finetune + HED', 2)]
    assert 'vs_baseline' in summary['runs'][1]['groups']['species/human']['Dice']
    table = open(osp.join(work, 'study.md')).read()
    assert table.count('\n') == 4 and '| tiny | pretrain > finetune + HED |' in table
    assert osp.getsize(osp.join(work, 'study.png')) > 10_000

    finetune = osp.join(work, 'tiny', 'pretrain_finetune_+_HED')
    tests = []
    for fold in ('fold0-seed0', 'fold1-seed0'):
        cell = osp.join(finetune, fold)
        train = Config.fromfile(osp.join(cell, 'configs', 'train.py'))
        stage1 = Config.fromfile(osp.join(cell, 'configs', 'pretrain.py'))
        # Stage 2 starts from stage 1's checkpoint; both train with HED jitter on the
        # fold's training rows and never see its test rows.
        assert train.load_from == open(osp.join(cell, 'pretrain', 'last_checkpoint')).read()
        for cfg in (train, stage1):
            types = [t['type'] for t in cfg.train_dataloader.dataset.pipeline]
            assert 'RandomHEDJitter' in types
            held_out = cfg.test_dataloader.dataset.filters['case']
            assert cfg.train_dataloader.dataset.filters == {'!case': held_out}
        assert train.train_dataloader.dataset.regime.mode == 'finetune'
        assert stage1.train_dataloader.dataset.regime.mode == 'pretrain'
        tests.append(set(held_out))
    assert not tests[0] & tests[1]  # folds partition the images

    # Interrupted after stage 2 trained, before its test: the rerun skips the three
    # finished cells and only tests this one (its training is complete).
    cell = osp.join(finetune, 'fold1-seed0')
    os.remove(osp.join(cell, 'metrics.json'))
    os.remove(osp.join(cell, 'stage_done'))
    others = {p: os.stat(p).st_mtime_ns for p in (
        osp.join(d, 'metrics.json') for d in (osp.join(work, 'tiny', 'separate', 'fold0-seed0'),
                                              osp.join(finetune, 'fold0-seed0')))}
    proc = run_tool(['tools/run_study.py', STUDY, '--work-dir', work], demo_data, fresh=False)
    assert proc.stdout.count('done, skipped') == 3
    assert osp.isfile(osp.join(cell, 'metrics.json'))
    log = proc.stdout + proc.stderr
    assert 'Iter(test)' in log and 'Iter(train)' not in log  # resumed at its last iteration
    assert all(os.stat(p).st_mtime_ns == t for p, t in others.items())
