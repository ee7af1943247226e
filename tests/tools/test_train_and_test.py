"""The user's path: tools/train.py, resume, tools/test.py and tools/dist_train.sh."""
import json
import os
import os.path as osp
import stat

import pytest
import torch

from crossspec_mmseg.structures import read_manifest
from helpers import REPO, TINY_CONFIG, run_tool


@pytest.fixture(scope='module')
def trained(demo_data, tmp_path_factory):
    """4 iterations of the tiny config through tools/train.py."""
    work = str(tmp_path_factory.mktemp('train'))
    run_tool(['tools/train.py', TINY_CONFIG, '--work-dir', work], demo_data, fresh=False)
    return work


@pytest.mark.heavy
def test_train_writes_checkpoints(trained):
    ckpt = torch.load(osp.join(trained, 'iter_4.pth'), map_location='cpu')  # weights_only
    assert ckpt['meta']['iter'] == 4
    assert ckpt['meta']['dataset_meta']['classes'] == ('background', 'nucleus')


@pytest.mark.heavy
def test_test_tool_writes_per_species_metrics(trained, demo_data):
    out = osp.join(trained, 'metrics_test.json')
    predictions = osp.join(trained, 'predictions')
    proc = run_tool(['tools/test.py', TINY_CONFIG, osp.join(trained, 'iter_4.pth'),
                     '--work-dir', trained, '--metrics-out', out, '--out', predictions],
                    demo_data, fresh=False)
    metrics = json.load(open(out))
    # test_evaluator = [GroupIoUMetric, GroupInstanceMetric]: both in one table and file.
    for species in ('human', 'mouse'):
        for key in ('mIoU', 'mDice', 'Dice.nucleus', 'mDice_std', 'n', 'PQ', 'AJI', 'AJI+',
                    'F1', 'PQ_img_std', 'nuclei'):
            assert f'species/{species}/{key}' in metrics
    # The demo's test tiles: folds 3 and 4.
    tested = sum(row['fold'] in ('fold3', 'fold4')
                 for row in read_manifest(osp.join(demo_data, 'manifest.csv')))
    assert metrics['species/human/n'] + metrics['species/mouse/n'] == metrics['n'] == tested
    assert 'species=mouse' in proc.stdout and '| AJI+ |' in proc.stdout.replace('  ', ' ')
    assert len(os.listdir(predictions)) == tested


@pytest.mark.heavy
@pytest.mark.slow  # two launches at once (about 20 s)
def test_two_dist_train_jobs_on_one_node_pick_their_own_ports(demo_data, tmp_path):
    """Two 2-process launches side by side, no PORT given, while torchrun's
    usual 29500 is taken by someone else: each picks a free port, both train."""
    import socket
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ('PORT', 'MASTER_PORT')}
    env.update(CROSSSPEC_DATA=demo_data, PYTHON=sys.executable, OMP_NUM_THREADS='1')
    works = [str(tmp_path / f'dist{k}') for k in range(2)]
    with socket.socket() as other_job:
        try:
            other_job.bind(('127.0.0.1', 29500))
        except OSError:
            pass  # already taken: just as well
        launches = [subprocess.Popen(
            ['tools/dist_train.sh', TINY_CONFIG, '2', '--work-dir', work, '--cfg-options',
             'train_cfg.max_iters=2'], cwd=REPO, env=env, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True) for work in works]
        logs = [proc.communicate(timeout=300)[0] for proc in launches]
    for proc, log, work in zip(launches, logs, works):
        assert proc.returncode == 0, log[-3000:]
        assert 'Distributed training: True' in log
        assert 'GPU number: 2' in log  # mmengine's name for the world size
        assert "type='CPUDistributedDataParallel'" in log
        ckpt = torch.load(osp.join(work, 'iter_2.pth'), map_location='cpu')
        assert ckpt['meta']['iter'] == 2


@pytest.mark.heavy
@pytest.mark.skipif(not osp.isfile(osp.join(REPO, '.venv', 'bin', 'python')),
                    reason='needs the .venv that make install creates')
def test_launcher_uses_the_venv_in_a_fresh_shell(demo_data, tmp_path):
    """No venv activated: the `python` on PATH has no torch, PYTHON is unset."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    fake = bin_dir / 'python'
    fake.write_text("#!/bin/sh\necho \"ModuleNotFoundError: No module named 'torch'\" >&2\n"
                    "exit 1\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    work = str(tmp_path / 'dist')
    run_tool(['tools/dist_train.sh', TINY_CONFIG, '1', '--work-dir', work,
              '--cfg-options', 'train_cfg.max_iters=1'], demo_data,
             env=dict(PYTHON=None, PATH=f'{bin_dir}{os.pathsep}{os.environ["PATH"]}'))
    assert osp.isfile(osp.join(work, 'iter_1.pth'))


@pytest.mark.heavy
def test_finetune_with_frozen_encoder_under_two_process_ddp(trained, demo_data, tmp_path):
    """The encoder is frozen when the model is built, so DDP (gloo, 2 ranks) never
    waits for its gradients; it stays exactly stage 1's while the head trains."""
    stage1 = osp.join(trained, 'iter_4.pth')
    work = str(tmp_path / 'fine')
    run_tool(['tools/dist_train.sh', osp.join(REPO, 'tests', 'configs', 'tiny_finetune.py'), '2',
              '--work-dir', work, '--cfg-options', f'load_from={stage1}',
              'train_cfg.max_iters=4'], demo_data)
    before = torch.load(stage1, map_location='cpu')['state_dict']
    after = torch.load(osp.join(work, 'iter_4.pth'), map_location='cpu')['state_dict']
    backbone = [k for k in before if k.startswith('backbone.')]
    assert backbone and all(torch.equal(before[k], after[k]) for k in backbone)  # BN stats too
    head = [k for k in before if k.startswith('decode_head.') and before[k].is_floating_point()]
    assert any(not torch.equal(before[k], after[k]) for k in head)


@pytest.mark.heavy
def test_finetune_config_without_stage1_says_what_to_do(zoo_data, tmp_path):
    """A shipped finetune config run before its pretrain stage: one line, exit 1."""
    os.symlink(osp.join(zoo_data, 'data'), tmp_path / 'data')
    config = osp.join(REPO, 'configs', 'crossspec', 'deeplabv3plus_finetune.py')
    proc = run_tool(['tools/train.py', config, '--cfg-options', 'train_dataloader.num_workers=0',
                     'train_dataloader.persistent_workers=False'],
                    str(tmp_path / 'data'), cwd=str(tmp_path), check=False, fresh=False)
    assert proc.returncode == 1
    assert 'Traceback' not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith('error: no stage-1 checkpoint in ')
    assert osp.join(str(tmp_path), 'work_dirs', 'deeplabv3plus_pretrain') in last
    assert 'configs/crossspec/deeplabv3plus_pretrain.py' in last and 'load_from=' in last
