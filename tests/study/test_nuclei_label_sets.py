"""studies/nuclei_label_sets.py, the seeds' Table 2 (B alone vs A then B) and
Table 4 (A alone vs A then B, on the unseen C) as a study: its cells
(``--dry-run``), its runs (each group's baseline, the equal-iteration option,
stage 1 = A alone), the stage configs the runner builds from it (PanNuke's
folds, the other datasets' own splits, validation kept for the checkpoint
choice), and the one line that stops it before training when a dataset is not
converted. Nothing trains here."""
import os
import os.path as osp

import pytest
from mmengine.config import Config

from crossspec_mmseg.structures import write_manifest
from crossspec_mmseg.study import load_study
from crossspec_mmseg.study.plan import build_stage_config, not_converted
from helpers import REPO, run_tool

STUDY = 'studies/nuclei_label_sets.py'
NAMES = {'pannuke': 'PanNuke', 'monusac': 'MoNuSAC', 'consep': 'CoNSeP'}
MODEL = 'StarDist R-50'
EQUAL, ONE = 'alone, equal iterations', 'alone, one schedule'


def config(prefix, regime):
    return osp.join(REPO, 'configs', 'nuclei', f'{prefix}_{regime}.py')


@pytest.fixture
def workdir(tmp_path):
    """A working directory with the repository's configs and studies (the
    study's paths are relative to it) and no converted data."""
    for name in ('configs', 'studies'):
        os.symlink(osp.join(REPO, name), tmp_path / name)
    return tmp_path


def manifest(root, dataset, **columns):
    """A converter's manifest in ``root/data/<dataset>`` (rows only: no tiles)."""
    rows = [dict(dict(image=f'images/{dataset}_{i}.png', mask=f'masks/{dataset}_{i}.png',
                      dataset=dataset, species='human', organ='colon', slide=f's{i}',
                      case=f'c{i}', split='', fold='', x=0, y=0, width=64, height=64,
                      scale=1, mpp='0.5', origin=dataset),
                 **{k: v[i % len(v)] for k, v in columns.items()})
            for i in range(6)]
    os.makedirs(root / 'data' / dataset, exist_ok=True)
    write_manifest(str(root / 'data' / dataset / 'manifest.csv'), rows)


def test_dry_run_lists_both_tables(tmp_path):
    work = str(tmp_path / 'study')
    proc = run_tool(['tools/run_study.py', STUDY, '--dry-run', '--work-dir', work], '',
                    fresh=False)
    lines = proc.stdout.strip().splitlines()
    # Table 2: 3 B x (2 baselines + 2 A then B); Table 4: 3 C x 2 A x (2 baselines +
    # A then B); x 3 seeds, no folds
    assert lines[-1] == '90 cells'
    assert sum('pretrain -> train' in line for line in lines) == (6 + 6) * 3
    for b in NAMES.values():
        group = f'{MODEL}, B={b} / '
        assert sum(line.startswith(group + EQUAL) for line in lines) == 3
        assert sum(line.startswith(group) and f'then {b} ' in line for line in lines) == 6
    assert any(line.startswith(f'{MODEL}, A=CoNSeP, unseen MoNuSAC / CoNSeP then PanNuke')
               for line in lines)  # the published 0.433 -> 0.563
    assert not osp.exists(work)


def test_runs_are_the_tables_with_equal_iterations():
    study = load_study(osp.join(REPO, STUDY))
    assert (study.folded, study.k, study.seeds) == (False, 1, [0, 1, 2])
    assert study.report == [f'dataset/{d}' for d in ('pannuke', 'consep', 'monusac')]
    assert study.metrics == dict(bPQ='bPQ', PQ='PQ', mPQ='mPQ')
    groups = {}
    for run in study.runs:
        groups.setdefault(run.model, {})[run.arm] = run
    assert len(groups) == 3 + 6
    for b, title in NAMES.items():  # Table 2
        arms = groups[f'{MODEL}, B={title}']
        assert arms[EQUAL].config == arms[ONE].config == config('stardist_r50', b)
        for a in set(NAMES) - {b}:
            run = arms[f'{NAMES[a]} then {title}']
            assert (run.pretrain, run.config) == (config('stardist_r50', a),
                                                  config('stardist_r50', f'{a}-then-{b}'))
    for c, title in NAMES.items():  # Table 4
        for a in set(NAMES) - {c}:
            (b,) = set(NAMES) - {a, c}
            arms = groups[f'{MODEL}, A={NAMES[a]}, unseen {title}']
            assert set(arms) == {EQUAL, ONE, f'{NAMES[a]} then {NAMES[b]}'}
            assert arms[EQUAL].config == config('stardist_r50', a)
    # The baseline trains as long as A then B (two schedules), on one schedule
    # stretched to that length; the paper's row and each stage keep the configs'.
    alone = Config.fromfile(config('stardist_r50', 'pannuke'))
    equal = groups[f'{MODEL}, B=PanNuke'][EQUAL].options
    assert equal['train_cfg.max_iters'] == 2 * alone.train_cfg.max_iters == 40000
    warmup, decay = equal['param_scheduler']
    assert [s['type'] for s in equal['param_scheduler']] == [
        s['type'] for s in alone.param_scheduler]
    assert warmup['end'] == alone.param_scheduler[0]['end'] and decay['end'] == 40000
    assert not groups[f'{MODEL}, B=PanNuke'][ONE].options


def test_stage_configs_keep_their_splits_and_validation(workdir, monkeypatch):
    """No folds: every stage keeps its config's splits (PanNuke's first
    rotation, CoNSeP's train/val) and validation (the configs keep their best
    checkpoint on it); the equal-iteration baseline runs 40k iterations."""
    manifest(workdir, 'pannuke', fold=['fold1', 'fold2', 'fold3'])
    manifest(workdir, 'consep', split=['train', 'val', 'test'])
    manifest(workdir, 'monusac', split=['train', 'val', 'test'])
    monkeypatch.chdir(workdir)
    study = load_study(STUDY)
    study.work_dir = str(workdir / 'study')
    cells = {(c.run.model, c.run.arm, c.seed): c for c in study.cells()}
    cell = cells[(f'{MODEL}, B=CoNSeP', 'PanNuke then CoNSeP', 1)]
    stage1 = build_stage_config(study, cell, 'pretrain')
    stage2 = build_stage_config(study, cell, 'train', load_from='stage1.pth')
    assert not_converted(stage1) == [] and not_converted(stage2) == []
    assert stage1.train_dataloader.dataset.filters == dict(fold='fold1', mpp='0.5')
    assert stage1.val_dataloader.dataset.filters == dict(fold='fold2', mpp='0.5')
    assert stage1.randomness.seed == stage2.randomness.seed == 1
    assert stage2.train_dataloader.dataset.filters == dict(split='train', mpp='0.5')
    assert stage2.val_dataloader.dataset.filters == dict(split='val', mpp='0.5')
    assert stage2.default_hooks.checkpoint.save_best == 'dataset/consep/mPQ'
    assert stage2.load_from == 'stage1.pth' and stage2.train_cfg.max_iters == 20000
    equal = build_stage_config(study, cells[(f'{MODEL}, B=CoNSeP', EQUAL, 0)], 'train')
    assert equal.train_cfg.max_iters == 40000 and equal.param_scheduler[-1]['end'] == 40000
    assert equal.val_dataloader.dataset.filters == dict(split='val', mpp='0.5')


def test_a_dataset_not_converted_stops_the_study_in_one_line(workdir):
    """Before any training: one line naming each dataset a stage needs that is
    not converted, with its converter's command; nothing is written."""
    work = str(workdir / 'study')
    args = ['tools/run_study.py', STUDY, '--work-dir', work]
    proc = run_tool(args, '', cwd=str(workdir), check=False, fresh=False)
    assert proc.returncode == 1 and 'Traceback' not in proc.stderr
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith(f'error: {STUDY}: {MODEL}, B=PanNuke / {EQUAL} (train) needs 3 '
                           'datasets not converted yet: PanNukeDataset (manifest not found: '
                           'data/pannuke/manifest.csv): python tools/dataset_converters/'
                           'pannuke.py RAW_DIR data/pannuke --mpp 0.5; ')
    for name in ('consep', 'monusac'):
        assert (f'(manifest not found: data/{name}/manifest.csv): python '
                f'tools/dataset_converters/{name}.py RAW_DIR data/{name} --mpp 0.5') in line

    manifest(workdir, 'pannuke', fold=['fold1', 'fold2', 'fold3'])
    manifest(workdir, 'monusac', split=['train', 'val', 'test'])
    proc = run_tool(args, '', cwd=str(workdir), check=False, fresh=False)
    assert proc.returncode == 1 and 'Traceback' not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        f'error: {STUDY}: {MODEL}, B=PanNuke / {EQUAL} (train) needs a dataset not converted '
        'yet: CoNSePDataset (manifest not found: data/consep/manifest.csv): python '
        'tools/dataset_converters/consep.py RAW_DIR data/consep --mpp 0.5')
    assert not osp.exists(work)
