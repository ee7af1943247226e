"""Guarantee 2: a training run killed with SIGKILL resumes (--resume) with the same
iteration counter, optimiser and scheduler state and the same remaining sample
stream (cross-species sampler) as an uninterrupted run; a checkpoint being written
when the kill lands is never resumed from."""
import json
import os
import os.path as osp
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch

from crossspec_mmseg.engine.safe_resume import resume_checkpoint
from helpers import REPO, run_tool

CONFIG = 'tests/configs/tiny_resume.py'  # 8 iterations, checkpoint every 2, SampleLogHook


def samples(work):
    """iteration -> samples, the last record of each iteration winning (a resumed
    run re-logs nothing before its checkpoint, so these are what trained)."""
    stream = {}
    for line in open(osp.join(work, 'samples_rank0.jsonl')):
        if line.endswith('\n'):
            record = json.loads(line)
            stream[record['iter']] = record['samples']
    return stream


@pytest.fixture(scope='module')
def uninterrupted(demo_data, tmp_path_factory):
    work = str(tmp_path_factory.mktemp('uninterrupted'))
    run_tool(['tools/train.py', CONFIG, '--work-dir', work], demo_data)
    return work


@pytest.mark.heavy
def test_sigkill_then_resume_continues_the_same_run(uninterrupted, demo_data, tmp_path):
    work = str(tmp_path / 'killed')
    env = dict(os.environ, CROSSSPEC_DATA=demo_data, OMP_NUM_THREADS='1')
    proc = subprocess.Popen([sys.executable, 'tools/train.py', CONFIG, '--work-dir', work],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while proc.poll() is None and not osp.exists(osp.join(work, 'iter_4.pth')):
        assert time.time() < deadline
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    # What --resume will pick (the kill may land while mmengine rewrites
    # last_checkpoint with a plain open: then the newest complete iter_N.pth).
    resumed_from = int(re.search(r'iter_(\d+)\.pth$', resume_checkpoint(work)).group(1))
    assert 4 <= resumed_from < 8

    log = run_tool(['tools/train.py', CONFIG, '--work-dir', work, '--resume'],
                   demo_data)
    text = log.stdout + log.stderr
    assert f'resumed epoch: 0, iter: {resumed_from}' in text
    trained = [int(i) for i in re.findall(r'Iter\(train\) \[\s*(\d+)/8\]', text)]
    assert trained == list(range(resumed_from + 1, 9))
    reference, resumed = samples(uninterrupted), samples(work)
    assert all(resumed[i] == reference[i] for i in range(resumed_from + 1, 9))
    assert len({tuple(reference[i]) for i in reference}) > 1  # the stream does vary

    ours = torch.load(osp.join(work, 'iter_8.pth'), map_location='cpu')
    theirs = torch.load(osp.join(uninterrupted, 'iter_8.pth'), map_location='cpu')
    assert ours['meta']['iter'] == theirs['meta']['iter'] == 8
    assert ours['param_schedulers'] == theirs['param_schedulers']
    assert [g['lr'] for g in ours['optimizer']['param_groups']] == \
        [g['lr'] for g in theirs['optimizer']['param_groups']]
    assert ours['optimizer']['state'].keys() == theirs['optimizer']['state'].keys()
    assert [f for f in os.listdir(work) if '.tmp' in f] == []


@pytest.mark.heavy
def test_corrupt_latest_checkpoint_is_never_resumed(uninterrupted, demo_data, tmp_path):
    """As if the kill landed while iter_8.pth was written by a non-atomic writer."""
    work = str(tmp_path / 'corrupt')
    shutil.copytree(uninterrupted, work)
    latest = osp.join(work, 'iter_8.pth')
    data = open(latest, 'rb').read()
    open(latest, 'wb').write(data[:len(data) // 2])
    open(osp.join(work, 'last_checkpoint'), 'w').write(latest)
    log = run_tool(['tools/train.py', CONFIG, '--work-dir', work, '--resume'], demo_data)
    text = log.stdout + log.stderr
    assert f'{latest} is incomplete or corrupt: resuming from' in text
    assert 'resumed epoch: 0, iter: 6' in text
    assert [int(i) for i in re.findall(r'Iter\(train\) \[\s*(\d+)/8\]', text)] == [7, 8]


def test_checkpoint_writes_are_atomic(tmp_path, monkeypatch):
    """The configs' checkpoint hook writes through this backend (and importing the
    package leaves everyone else's 'local' writes alone): a write interrupted
    after its bytes went out leaves the previous file whole and no temporary."""
    from mmengine.config import Config
    from mmengine.fileio import LocalBackend, get_file_backend

    from crossspec_mmseg.engine import AtomicLocalBackend
    hook = Config.fromfile(osp.join(REPO, CONFIG)).default_hooks.checkpoint
    backend = get_file_backend(str(tmp_path / 'x.pth'), backend_args=hook.backend_args)
    assert isinstance(backend, AtomicLocalBackend)
    assert type(get_file_backend(str(tmp_path / 'x.pth'))) is LocalBackend
    target = str(tmp_path / 'iter_2.pth')
    backend.put(b'complete', target)

    def killed(fd):
        raise KeyboardInterrupt('killed mid-write')
    monkeypatch.setattr(os, 'fsync', killed)
    with pytest.raises(KeyboardInterrupt):
        backend.put(b'new, longer content', target)
    assert open(target, 'rb').read() == b'complete' and os.listdir(tmp_path) == ['iter_2.pth']


def test_fallback_ignores_best_checkpoints_and_temporaries(tmp_path):
    """best_* checkpoints hold no optimiser state; a killed write's temporary is removed."""
    from crossspec_mmseg.engine import resume_checkpoint
    for name in ('iter_4.pth', 'best_mIoU_iter_6.pth', 'iter_6.pth'):
        torch.save({'meta': {}}, str(tmp_path / name))
    data = open(tmp_path / 'iter_6.pth', 'rb').read()
    open(tmp_path / 'iter_6.pth', 'wb').write(data[:len(data) // 2])
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_6.pth'))
    (tmp_path / '.iter_8.k3j2h1g0.tmp.pth').write_bytes(b'half a checkpoint')
    assert resume_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_4.pth')
    assert not (tmp_path / '.iter_8.k3j2h1g0.tmp.pth').exists()


def test_resume_takes_the_newest_complete_checkpoint(tmp_path):
    """A kill between writing iter_4.pth and rewriting last_checkpoint leaves
    last_checkpoint naming iter_2.pth: iter_4.pth is resumed. A higher-numbered
    checkpoint left by an earlier run in the folder (older) is not."""
    from crossspec_mmseg.engine import resume_checkpoint
    for age, name in ((300, 'iter_8.pth'), (20, 'iter_2.pth'), (10, 'iter_4.pth')):
        path = str(tmp_path / name)
        torch.save({'meta': {}}, path)
        os.utime(path, (time.time() - age,) * 2)
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_2.pth'))
    assert resume_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_4.pth')
    os.utime(tmp_path / 'iter_4.pth', (time.time() - 400,) * 2)  # iter_2 is the newest
    assert resume_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_2.pth')
