"""How scripts/install.sh builds mmcv 2.1.0 here: CUDA or CPU ops, for which GPU
architectures, with how many parallel jobs, cached under which key.

    python scripts/mmcv_build_plan.py      # prints shell assignments for install.sh

The decision (tested with the CUDA queries mocked in tests/test_install.py):

* CUDA ops only when torch is a CUDA build *and* a usable ``nvcc`` (in
  ``$CUDA_HOME/bin`` or on ``PATH``) has torch's CUDA major version; otherwise
  CPU ops, forced (mmcv's setup.py would try CUDA whenever a GPU is visible).
* ``TORCH_CUDA_ARCH_LIST``: the user's if set; else the visible GPUs'
  architectures; else (login node, container build) a default for the CUDA
  version, so torch's extension builder does not abort without a GPU.
* ``MAX_JOBS``: the user's if set; else the cores, capped by free memory
  (about 4 GB per nvcc job, 1.5 GB per c++ job); parallel only with ninja.
* Cache key: torch version, CPU-vs-CUDA ops and CUDA version, so a CPU build is
  never reused on a GPU machine.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional

#: GPU architectures built when none is visible, by CUDA major.minor (lowest first).
DEFAULT_ARCHS = [
    ((13, 0), '7.5;8.0;8.6;8.9;9.0;10.0;12.0+PTX'),  # CUDA 13 dropped Volta and older
    ((12, 8), '7.0;7.5;8.0;8.6;8.9;9.0;10.0;12.0+PTX'),
    ((11, 8), '7.0;7.5;8.0;8.6;8.9;9.0+PTX'),
    ((0, 0), '6.0;7.0;7.5;8.0;8.6+PTX'),
]
GB_PER_JOB = {'cuda': 4.0, 'cpu': 1.5}


@dataclass
class BuildPlan:
    ops: str  # 'cuda' or 'cpu'
    reason: str
    arch_list: str
    arch_reason: str
    max_jobs: int
    cache_key: str

    def shell(self) -> str:
        values = dict(MMCV_OPS=self.ops, MMCV_OPS_REASON=self.reason,
                      MMCV_ARCH_LIST=self.arch_list, MMCV_ARCH_REASON=self.arch_reason,
                      MMCV_MAX_JOBS=str(self.max_jobs), MMCV_CACHE_KEY=self.cache_key)
        return '\n'.join(f'{k}={shlex.quote(v)}' for k, v in values.items())


def nvcc_version(nvcc: Optional[str], run: Callable = subprocess.run) -> Optional[str]:
    """``'12.4'`` from ``nvcc --version`` (None if absent or unreadable)."""
    if not nvcc:
        return None
    try:
        out = run([nvcc, '--version'], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r'release (\d+\.\d+)', out or '')
    return match.group(1) if match else None


def find_nvcc(env: Dict[str, str], which: Callable = shutil.which) -> Optional[str]:
    home = env.get('CUDA_HOME') or env.get('CUDA_PATH')
    if home and os.path.isfile(os.path.join(home, 'bin', 'nvcc')):
        return os.path.join(home, 'bin', 'nvcc')
    return which('nvcc')


def default_arch_list(cuda: str) -> str:
    major, minor = (int(x) for x in cuda.split('.')[:2])
    return next(archs for version, archs in DEFAULT_ARCHS if (major, minor) >= version)


def plan(torch_version: str, torch_cuda: Optional[str], gpu_capabilities: List[tuple],
         nvcc_release: Optional[str], env: Dict[str, str], cores: int, mem_available_gb: float,
         has_ninja: bool) -> BuildPlan:
    """The build for this machine (pure: every query is an argument)."""
    if torch_cuda is None:
        ops, reason = 'cpu', 'CPU ops: torch is a CPU build'
    elif nvcc_release is None:
        ops, reason = 'cpu', (f'CPU ops: torch is built for CUDA {torch_cuda} but no nvcc was '
                              'found (set CUDA_HOME to the CUDA toolkit to build CUDA ops)')
    elif nvcc_release.split('.')[0] != torch_cuda.split('.')[0]:
        ops, reason = 'cpu', (f'CPU ops: nvcc is CUDA {nvcc_release}, torch needs CUDA '
                              f'{torch_cuda.split(".")[0]}.x (point CUDA_HOME at a matching '
                              'toolkit to build CUDA ops)')
    else:
        ops, reason = 'cuda', f'CUDA ops: torch CUDA {torch_cuda}, nvcc {nvcc_release}'
    arch_list, arch_reason = '', ''
    if ops == 'cuda':
        if env.get('TORCH_CUDA_ARCH_LIST'):
            arch_list, arch_reason = env['TORCH_CUDA_ARCH_LIST'], 'from TORCH_CUDA_ARCH_LIST'
        elif gpu_capabilities:
            arch_list = ';'.join(sorted({f'{a}.{b}' for a, b in gpu_capabilities}))
            arch_reason = 'the visible GPUs'
        else:
            arch_list = default_arch_list(nvcc_release)
            arch_reason = f'no GPU visible: default for CUDA {nvcc_release}'
    if env.get('MAX_JOBS'):
        jobs = int(env['MAX_JOBS'])
    elif not has_ninja:
        jobs = 1
    else:
        jobs = max(1, min(cores, int(mem_available_gb // GB_PER_JOB[ops])))
    cuda_tag = f'cu{torch_cuda}' if ops == 'cuda' else 'cpu'
    key = f'torch-{torch_version.replace("+", "_")}-ops-{cuda_tag}'
    return BuildPlan(ops, reason, arch_list, arch_reason, jobs, key)


def mem_available_gb() -> float:
    try:
        with open('/proc/meminfo') as f:
            for line in f:
                if line.startswith('MemAvailable:'):
                    return int(line.split()[1]) / 2 ** 20
    except OSError:
        pass
    return 8.0


def main() -> None:
    import torch  # the venv's torch: this runs inside the venv being installed
    gpus = []
    if torch.version.cuda is not None and torch.cuda.is_available():
        gpus = [torch.cuda.get_device_capability(i) for i in range(torch.cuda.device_count())]
    env = dict(os.environ)
    result = plan(torch.__version__, torch.version.cuda, gpus,
                  nvcc_version(find_nvcc(env)) if torch.version.cuda else None, env,
                  os.cpu_count() or 1, mem_available_gb(), shutil.which('ninja') is not None)
    print(result.shell())


if __name__ == '__main__':
    main()
