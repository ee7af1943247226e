"""What tests share besides fixtures: repository paths and running the CLIs.

Import it as ``from helpers import ...`` (``tests/`` is on ``sys.path`` under
pytest); fixtures live in ``conftest.py``.
"""
import contextlib
import hashlib
import io
import itertools
import json
import os
import os.path as osp
import runpy
import socket
import subprocess
import sys

import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
TINY_CONFIG = osp.join(REPO, 'tests', 'configs', 'tiny_demo.py')
#: Real Orbit format samples: a Java-written orbit.db, its blobs and their decoded values.
ORBIT_FIXTURE = osp.join(REPO, 'tests', 'data', 'orbit')
ORBIT_BLOBS_DIR = osp.join(ORBIT_FIXTURE, 'blobs')


def orbit_expected():
    """The decoded values of the fixture's annotations (``expected.json``)."""
    with open(osp.join(ORBIT_FIXTURE, 'expected.json')) as f:
        return json.load(f)['annotations']


def tree_digest(root):
    """Hash of every file except the resume journal."""
    h = hashlib.sha256()
    for dirpath, dirs, files in sorted(os.walk(root)):
        dirs[:] = sorted(d for d in dirs if d != '.journal')
        for name in sorted(files):
            path = osp.join(dirpath, name)
            h.update(osp.relpath(path, root).encode() + open(path, 'rb').read())
    return h.hexdigest()


def free_port():
    """A TCP port free right now (for torchrun's rendezvous)."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def run_in_process(script, argv, env, cwd):
    """``python script argv...`` in this interpreter (its ``__main__`` block,
    argparse and exit codes as from a shell; stdout/stderr captured), with
    ``env`` as the environment and ``cwd`` as the folder, both restored after.
    Saves the interpreter start and the torch/mmseg imports (~5 s a call) for
    tools that start no processes of their own."""
    out, err = io.StringIO(), io.StringIO()
    old_argv, old_env, old_cwd, old_path = sys.argv, dict(os.environ), os.getcwd(), sys.path[:]
    sys.argv = [script, *argv]
    sys.path.insert(0, osp.dirname(script))  # as python does for a script
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                runpy.run_path(script, run_name='__main__')
            except SystemExit as exit_:
                if isinstance(exit_.code, str):  # sys.exit('error: ...')
                    print(exit_.code, file=sys.stderr)
                    code = 1
                else:
                    code = exit_.code or 0
    finally:
        sys.argv, sys.path[:] = old_argv, old_path
        os.environ.clear()
        os.environ.update(old_env)
        os.chdir(old_cwd)
    return subprocess.CompletedProcess([script, *argv], code, out.getvalue(), err.getvalue())


def run_tool(args, data_root, timeout=300, env=None, cwd=REPO, check=True, fresh=True):
    """Run a repo CLI with the venv's interpreter; fail with its output
    (``check=False``: return it whatever the exit code).

    ``env`` entries set to ``None`` are removed. Launchers get a fresh
    ``PORT``; if another process grabbed it between choosing and binding
    (EADDRINUSE), the launch is retried once. ``fresh=False`` runs a Python
    tool that starts no processes in this interpreter (:func:`run_in_process`;
    no timeout).
    """
    full_env = dict(os.environ, CROSSSPEC_DATA=data_root, PYTHON=sys.executable,
                    OMP_NUM_THREADS='1')
    full_env.update(env or {})
    full_env = {k: v for k, v in full_env.items() if v is not None}
    if not fresh:
        proc = run_in_process(osp.join(REPO, args[0]), args[1:], full_env, cwd)
        if check and proc.returncode != 0:
            pytest.fail(f'{" ".join(args)} failed ({proc.returncode}):\n'
                        f'{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}')
        return proc
    if args[0].endswith('.sh'):
        cmd = [osp.join(REPO, args[0])] + args[1:]
    else:
        cmd = [sys.executable, osp.join(REPO, args[0])] + args[1:]
    for attempt in range(2):
        if cmd[0].endswith('.sh'):
            full_env['PORT'] = str(free_port())
        proc = subprocess.run(cmd, cwd=cwd, env=full_env, capture_output=True, text=True,
                              timeout=timeout)
        if proc.returncode == 0 or 'EADDRINUSE' not in proc.stdout + proc.stderr:
            break
    if check and proc.returncode != 0:
        pytest.fail(f'{" ".join(args)} failed ({proc.returncode}):\n'
                    f'{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}')
    return proc


def write_tiny_checkpoint(path):
    """A checkpoint of ``TINY_CONFIG``'s model (random weights, two classes)."""
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    init_default_scope('mmseg')
    model = MODELS.build(Config.fromfile(TINY_CONFIG).model)
    torch.save(dict(state_dict=model.state_dict(),
                    meta=dict(dataset_meta=dict(classes=('background', 'nucleus')))), str(path))
    return str(path)


_RUNNERS = itertools.count()


def tiny_runner(work_dir, **kwargs):
    """A real mmengine ``Runner`` around a one-weight model, built but not run
    (``kwargs``: ``load_from``, ``resume``...), for what hooks read of a runner;
    each has its own experiment name, so its logger and visualizer are its own."""
    from mmengine.model import BaseModel
    from mmengine.runner import Runner
    from torch import nn

    class OneWeight(BaseModel):
        def __init__(self):
            super().__init__()
            self.weight = nn.Linear(1, 1)

        def forward(self, inputs, data_samples=None, mode='tensor'):
            return self.weight(inputs)

    kwargs.setdefault('experiment_name', f'tiny_runner_{os.getpid()}_{next(_RUNNERS)}')
    return Runner(model=OneWeight(), work_dir=str(work_dir), **kwargs)
