"""The user's path: tools/train.py, resume, tools/test.py and tools/dist_train.sh."""
import json
import os.path as osp
import re

import pytest
import torch

from conftest import TINY_CONFIG, run_tool


@pytest.fixture(scope='module')
def trained(demo_data, tmp_path_factory):
    """4 iterations of the tiny config through tools/train.py."""
    work = str(tmp_path_factory.mktemp('train'))
    run_tool(['tools/train.py', TINY_CONFIG, '--work-dir', work], demo_data)
    return work


def test_train_writes_checkpoints(trained):
    ckpt = torch.load(osp.join(trained, 'iter_4.pth'), map_location='cpu')  # weights_only
    assert ckpt['meta']['iter'] == 4
    assert ckpt['meta']['dataset_meta']['classes'] == ('background', 'nucleus')


def test_resume_continues_iteration_counter(trained, demo_data, tmp_path):
    import shutil
    work = str(tmp_path / 'resume')
    shutil.copytree(trained, work)
    with open(osp.join(work, 'last_checkpoint'), 'w') as f:
        f.write(osp.join(work, 'iter_4.pth'))
    proc = run_tool(['tools/train.py', TINY_CONFIG, '--work-dir', work, '--resume',
                     '--cfg-options', 'train_cfg.max_iters=6'], demo_data)
    log = proc.stdout + proc.stderr
    assert 'resumed epoch: 0, iter: 4' in log
    iters = [int(m) for m in re.findall(r'Iter\(train\) \[\s*(\d+)/6\]', log)]
    assert iters == [5, 6]
    ckpt = torch.load(osp.join(work, 'iter_6.pth'), map_location='cpu')
    assert ckpt['meta']['iter'] == 6


def test_test_tool_writes_per_species_metrics(trained, demo_data):
    out = osp.join(trained, 'metrics_test.json')
    proc = run_tool(['tools/test.py', TINY_CONFIG, osp.join(trained, 'iter_4.pth'),
                     '--work-dir', trained, '--metrics-out', out], demo_data)
    metrics = json.load(open(out))
    for species in ('human', 'mouse'):
        for key in ('mIoU', 'mDice', 'Dice.nucleus', 'mDice_std', 'n'):
            assert f'species/{species}/{key}' in metrics
    assert metrics['species/human/n'] + metrics['species/mouse/n'] == metrics['n'] == 4
    assert 'species=mouse' in proc.stdout


def test_dist_train_two_cpu_processes(demo_data, tmp_path):
    work = str(tmp_path / 'dist')
    proc = run_tool(['tools/dist_train.sh', TINY_CONFIG, '2', '--work-dir', work,
                     '--cfg-options', 'train_cfg.max_iters=2'], demo_data)
    log = proc.stdout + proc.stderr
    assert 'Distributed training: True' in log
    assert 'GPU number: 2' in log  # mmengine's name for the world size
    assert "type='CPUDistributedDataParallel'" in log
    ckpt = torch.load(osp.join(work, 'iter_2.pth'), map_location='cpu')
    assert ckpt['meta']['iter'] == 2
