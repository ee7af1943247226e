"""The study runner's stages under torchrun (``--gpus N > 1``): which tool each
stage launches with which arguments, and what it reads back (checkpoint, done
marker); in-process runs: tests/tools/test_run_study.py and
tests/evaluation/test_cross_validation.py."""
import os.path as osp

from crossspec_mmseg.study.cross_validation import cross_validation_study
from crossspec_mmseg.study.runner import DONE, StageRunner, run_cells
from helpers import TINY_CONFIG


def not_in_process(*args, **kwargs):
    raise AssertionError('gpus > 1 must not train or test in this process')


def test_gpus_launch_train_then_test_on_torchrun(demo_data, tmp_path, monkeypatch):
    monkeypatch.setenv('CROSSSPEC_DATA', demo_data)
    calls = []

    def launch(tool, gpus, argv):
        calls.append((tool, gpus, argv))
        if tool == 'train.py':  # what tools/train.py leaves behind
            work = argv[argv.index('--work-dir') + 1]
            with open(osp.join(work, 'last_checkpoint'), 'w') as f:
                f.write(osp.join(work, 'iter_4.pth'))

    study = cross_validation_study(TINY_CONFIG, str(tmp_path / 'cv'), k=2)
    stages = StageRunner(not_in_process, not_in_process, not_in_process, launch, gpus=3,
                         amp=True, pretrained=False)
    run_cells(study, stages, log=lambda line: None)
    for k in (0, 1):
        work = str(tmp_path / 'cv' / f'fold{k}')
        config = osp.join(work, 'configs', 'train.py')
        assert calls[2 * k:2 * k + 2] == [
            ('train.py', 3, [config, '--work-dir', work, '--resume', '--amp', '--no-pretrained']),
            ('test.py', 3, [config, osp.join(work, 'iter_4.pth'), '--work-dir', work,
                            '--metrics-out', osp.join(work, 'metrics.json'), '--no-pretrained'])]
        assert open(osp.join(work, DONE)).read() == osp.join(work, 'iter_4.pth') + '\n'
    # Trained, not tested (no metrics.json): a rerun only tests.
    calls.clear()
    run_cells(study, stages, log=lambda line: None)
    assert [tool for tool, _, _ in calls] == ['test.py', 'test.py']


def test_a_study_without_folds_keeps_the_splits_and_tests_the_best_checkpoint(
        demo_data, tmp_path, monkeypatch):
    """``folds = None``: seeds are the replicates, every config keeps its own
    filters and validation, and a cell is tested on the best checkpoint its
    config kept (chosen on its validation split); a folded study tests the last."""
    from mmengine.config import Config

    from crossspec_mmseg.study import load_study
    from crossspec_mmseg.study.plan import build_stage_config
    monkeypatch.setenv('CROSSSPEC_DATA', demo_data)
    calls = []

    def launch(tool, gpus, argv):
        calls.append((tool, argv))
        if tool == 'train.py':
            work = argv[argv.index('--work-dir') + 1]
            with open(osp.join(work, 'last_checkpoint'), 'w') as f:
                f.write(osp.join(work, 'iter_4.pth'))
            open(osp.join(work, 'best_mDice_iter_2.pth'), 'w').close()

    stages = StageRunner(not_in_process, not_in_process, not_in_process, launch, gpus=2)
    path = tmp_path / 'study.py'
    path.write_text(f"work_dir = {str(tmp_path / 'w')!r}\nfolds = None\nseeds = [0, 1]\n"
                    f"runs = [dict(model='m', arm='a', config={TINY_CONFIG!r})]\n")
    study = load_study(str(path))
    assert (study.folded, study.k, [c.replicate for c in study.cells()]) == (
        False, 1, ['fold0-seed0', 'fold0-seed1'])
    cell = study.cells()[0]
    built, own = build_stage_config(study, cell, 'train'), Config.fromfile(TINY_CONFIG)
    assert built.train_dataloader.dataset.get('filters') == own.train_dataloader.dataset.get(
        'filters') and built.val_dataloader == own.val_dataloader
    run_cells(study, stages, log=lambda line: None)
    tested = [argv[1] for tool, argv in calls if tool == 'test.py']
    assert tested == [osp.join(c.work, 'best_mDice_iter_2.pth') for c in study.cells()]

    calls.clear()  # folded: the validation rows are the fold's test rows, so the last
    folded = cross_validation_study(TINY_CONFIG, str(tmp_path / 'cv'), k=2)
    run_cells(folded, stages, log=lambda line: None)
    assert [argv[1] for tool, argv in calls if tool == 'test.py'] == [
        osp.join(c.work, 'iter_4.pth') for c in folded.cells()]
