"""Guarantee 5: when one rank of a 2-process CPU run dies, the other exits with an
error within a bounded time instead of hanging, and the run resumes."""
import os
import os.path as osp
import re
import signal
import subprocess
import sys
import time

import pytest

from helpers import REPO, free_port, run_tool

CONFIG = 'tests/configs/tiny_resume.py'
BOUND_S = 60  #: the surviving rank must be gone this long after the kill


def ranks_of(launcher_pid):
    """``{rank: pid}`` of the worker processes under a torchrun launcher."""
    found = {}
    for pid in os.listdir('/proc'):
        if not pid.isdigit():
            continue
        try:
            environ = open(f'/proc/{pid}/environ', 'rb').read().split(b'\0')
            status = open(f'/proc/{pid}/status').read()
        except OSError:
            continue
        ppid = int(re.search(r'PPid:\s+(\d+)', status).group(1))
        env = dict(e.split(b'=', 1) for e in environ if b'=' in e)
        if ppid == launcher_pid and b'RANK' in env:
            found[int(env[b'RANK'])] = int(pid)
    return found


def wait_for(predicate, timeout, what):
    deadline = time.time() + timeout
    while not predicate():
        assert time.time() < deadline, f'timed out waiting for {what}'
        time.sleep(0.05)


def alive(pid):
    try:
        os.kill(pid, 0)
        return open(f'/proc/{pid}/status').read().find('State:\tZ') < 0
    except (OSError, FileNotFoundError):
        return False


@pytest.mark.heavy
@pytest.mark.slow  # a killed rank and a resume (about 17 s)
def test_a_dead_rank_ends_the_run_in_bounded_time_and_it_resumes(demo_data, tmp_path):
    work = str(tmp_path / 'dist')
    env = dict(os.environ, CROSSSPEC_DATA=demo_data, PYTHON=sys.executable, OMP_NUM_THREADS='1',
               PORT=str(free_port()))
    launcher = subprocess.Popen(['tools/dist_train.sh', CONFIG, '2', '--work-dir', work,
                                 '--cfg-options', 'train_cfg.max_iters=400'], cwd=REPO, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(lambda: osp.exists(osp.join(work, 'iter_2.pth')), 240, 'the first checkpoint')
        ranks = ranks_of(launcher.pid)
        assert sorted(ranks) == [0, 1]
        os.kill(ranks[1], signal.SIGKILL)
        killed_at = time.time()
        wait_for(lambda: not alive(ranks[0]), BOUND_S, 'rank 0 to exit')
        print(f'rank 0 gone {time.time() - killed_at:.1f} s after rank 1 was killed')
        assert launcher.wait(timeout=BOUND_S) != 0
        assert time.time() - killed_at < BOUND_S
    finally:
        if launcher.poll() is None:
            launcher.kill()
    assert 'FAILED' in launcher.stdout.read()  # torchrun's report names the failed rank

    done = int(re.search(r'iter_(\d+)', open(osp.join(work, 'last_checkpoint')).read()).group(1))
    proc = run_tool(['tools/dist_train.sh', CONFIG, '2', '--work-dir', work, '--resume',
                     '--cfg-options', f'train_cfg.max_iters={done + 2}'], demo_data)
    assert f'resumed epoch: 0, iter: {done}' in proc.stdout + proc.stderr
    assert osp.exists(osp.join(work, f'iter_{done + 2}.pth'))


@pytest.mark.heavy
def test_without_a_launcher_the_survivor_errors_out(demo_data, tmp_path):
    """Started as a cluster scheduler would (no torchrun agent to stop the others):
    the process group itself notices the lost peer."""
    work = str(tmp_path / 'bare')
    port = str(free_port())
    procs = []
    for rank in (0, 1):
        env = dict(os.environ, CROSSSPEC_DATA=demo_data, OMP_NUM_THREADS='1', RANK=str(rank),
                   LOCAL_RANK=str(rank), WORLD_SIZE='2', MASTER_ADDR='127.0.0.1',
                   MASTER_PORT=port, PYTHONPATH=REPO)
        procs.append(subprocess.Popen(
            [sys.executable, 'tools/train.py', CONFIG, '--work-dir', work, '--launcher',
             'pytorch', '--cfg-options', 'train_cfg.max_iters=400',
             'env_cfg.dist_cfg.timeout=30'], cwd=REPO, env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
    try:
        wait_for(lambda: osp.exists(osp.join(work, 'iter_2.pth')), 240, 'the first checkpoint')
        procs[1].send_signal(signal.SIGKILL)
        killed_at = time.time()
        code = procs[0].wait(timeout=BOUND_S)
        print(f'rank 0 exited ({code}) {time.time() - killed_at:.1f} s after rank 1 was killed')
        assert code != 0 and time.time() - killed_at < BOUND_S
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
