"""How scripts/install.sh builds mmcv 2.1.0 here: CUDA or CPU ops, for which GPU
architectures, with how many parallel jobs, cached under which key.

    python scripts/mmcv_build_plan.py      # prints shell assignments for install.sh

The decision (tested with the CUDA queries mocked in tests/test_install.py):

* CUDA ops only when torch is a CUDA build *and* a usable ``nvcc`` (in
  ``$CUDA_HOME/bin``, on ``PATH`` or in ``/usr/local/cuda/bin``: where torch's
  extension builder looks) has torch's CUDA major version *and* there is a GPU
  to build for: one visible, or asked for explicitly (``TORCH_CUDA_ARCH_LIST``
  set, or ``CROSSSPEC_MMCV_OPS=cuda``: login nodes, container builds). Without
  a visible GPU and without asking, CPU ops: torch's default wheels are CUDA
  builds and CUDA toolkits sit in CPU-only images and CI runners, where nvcc's
  default list would compile the kernels for 7-8 architectures (hours on a few
  cores). ``CROSSSPEC_MMCV_OPS=cpu`` forces CPU ops. CPU ops are forced (mmcv's
  setup.py would try CUDA whenever a GPU is visible).
* ``TORCH_CUDA_ARCH_LIST``: the user's if set, as given; else the visible GPUs'
  architectures, ``+PTX`` on the highest (so a newer GPU sharing the cache can
  JIT-compile the kernels); else (``CROSSSPEC_MMCV_OPS=cuda`` without a GPU)
  nvcc's default list for its CUDA version, less the names the installed torch
  refuses (torch before 2.7 aborts on 10.0 and 12.0 with "Unknown CUDA arch").
* C++ standard: the one torch's headers demand (``ATen/ATen.h``: C++17 up to
  torch 2.13, C++20 from 2.14); mmcv 2.1.0's setup.py hard-codes ``-std=c++17``,
  so install.sh patches its sdist when this is newer (``MMCV_CXX_STD``).
* ``MAX_JOBS``: the user's if set; else the cores, capped by free memory
  (about 4 GB per nvcc job, 1.5 GB per c++ job); parallel only with ninja.
* Cache key: everything the wheel depends on: torch version, CPU-vs-CUDA ops,
  torch's CUDA version and nvcc's, the architecture list (a short hash of it, normalised), the
  Python tag and the platform. The wheel's file name must carry the same Python
  tag and platform (``MMCV_WHEEL_GLOB``).
"""
from __future__ import annotations

import ast
import hashlib
import inspect
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, List, Optional, Sequence

MMCV_VERSION = '2.1.0'
#: nvcc's default GPU architectures when none is visible, by CUDA major.minor (lowest
#: first); the last one built gets +PTX.
DEFAULT_ARCHS = [
    ((13, 0), ('7.5', '8.0', '8.6', '8.9', '9.0', '10.0', '12.0')),  # CUDA 13 dropped Volta
    ((12, 8), ('7.0', '7.5', '8.0', '8.6', '8.9', '9.0', '10.0', '12.0')),
    ((11, 8), ('7.0', '7.5', '8.0', '8.6', '8.9', '9.0')),
    ((0, 0), ('6.0', '7.0', '7.5', '8.0', '8.6')),
]
GB_PER_JOB = {'cuda': 4.0, 'cpu': 1.5}
#: the standard mmcv 2.1.0's setup.py asks for (torch > 1.12.1); install.sh patches newer in
MMCV_CXX_STD = 'c++17'
#: ``__cplusplus`` values (the year and month of each standard)
CXX_STANDARDS = {201402: 'c++14', 201703: 'c++17', 202002: 'c++20', 202302: 'c++23'}
OPS_ENV = 'CROSSSPEC_MMCV_OPS'  # cuda, cpu, or unset/auto
CUDA_HOME_DEFAULT = '/usr/local/cuda'  # torch's _find_cuda_home looks there last


@dataclass
class BuildPlan:
    ops: str  # 'cuda' or 'cpu'
    reason: str
    arch_list: str
    arch_reason: str
    max_jobs: int
    cache_key: str
    cpu_cache_key: str  # where a CPU build lands when the CUDA build fails
    arch_key: str  # the normalised arch list the cache key hashes ('' for CPU ops)
    wheel_glob: str  # file name of the wheel this interpreter installs
    cxx_std: str = MMCV_CXX_STD  # what torch's headers need ('c++20' from torch 2.14)

    def shell(self) -> str:
        values = dict(MMCV_OPS=self.ops, MMCV_OPS_REASON=self.reason,
                      MMCV_ARCH_LIST=self.arch_list, MMCV_ARCH_REASON=self.arch_reason,
                      MMCV_MAX_JOBS=str(self.max_jobs), MMCV_CACHE_KEY=self.cache_key,
                      MMCV_CPU_CACHE_KEY=self.cpu_cache_key, MMCV_ARCH_KEY=self.arch_key,
                      MMCV_WHEEL_GLOB=self.wheel_glob, MMCV_CXX_STD=self.cxx_std)
        return '\n'.join(f'{k}={shlex.quote(v)}' for k, v in values.items())


def torch_cxx_std(aten_header: Optional[str], torch_version: str) -> str:
    """The C++ standard torch's headers require: ``'c++20'`` when ``ATen/ATen.h`` (its
    text, ``aten_header``) stops with ``#if ... __cplusplus < 202002L  #error``; when it
    cannot be read, by version (C++20 from torch 2.14, C++17 before)."""
    match = re.search(r'__cplusplus\s*<\s*(\d{6})L', aten_header or '')
    if match:
        value = int(match.group(1))
        known = [v for v in CXX_STANDARDS if v <= value]
        return CXX_STANDARDS[max(known)] if known else MMCV_CXX_STD
    release = re.match(r'(\d+)\.(\d+)', torch_version)
    if release and (int(release.group(1)), int(release.group(2))) >= (2, 14):
        return 'c++20'
    return MMCV_CXX_STD


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


def find_nvcc(env: Dict[str, str], which: Callable = shutil.which,
              default_home: str = CUDA_HOME_DEFAULT) -> Optional[str]:
    """nvcc where torch's extension builder finds CUDA: ``$CUDA_HOME`` (or
    ``$CUDA_PATH``), else ``PATH``, else ``default_home``."""
    home = env.get('CUDA_HOME') or env.get('CUDA_PATH')
    if home and os.path.isfile(os.path.join(home, 'bin', 'nvcc')):
        return os.path.join(home, 'bin', 'nvcc')
    found = which('nvcc')
    if found:
        return found
    nvcc = os.path.join(default_home, 'bin', 'nvcc')
    return nvcc if os.path.isfile(nvcc) else None


def arch_sort_key(arch: str) -> tuple:
    """Numeric order ('9.0' < '10.0'); names such as 'Ampere' after numbers."""
    match = re.match(r'(\d+)\.(\d+)', arch)
    return (0, int(match.group(1)), int(match.group(2)), arch) if match else (1, 0, 0, arch)


def normalise_arch_list(arch_list: str) -> str:
    """``'9.0 8.0+PTX;8.0'`` -> ``'8.0+PTX;9.0'``: the form the cache key hashes."""
    archs = {a for a in arch_list.replace(' ', ';').split(';') if a}
    return ';'.join(sorted(archs, key=arch_sort_key))


def with_ptx(archs: Sequence[str]) -> str:
    """``['8.0', '9.0']`` -> ``'8.0;9.0+PTX'``: PTX of the highest for newer GPUs."""
    archs = sorted(set(archs), key=arch_sort_key)
    return ';'.join(archs[:-1] + [archs[-1] + '+PTX']) if archs else ''


def nvcc_default_archs(cuda: str) -> tuple:
    major, minor = (int(x) for x in cuda.split('.')[:2])
    return next(archs for version, archs in DEFAULT_ARCHS if (major, minor) >= version)


def default_arch_list(cuda: str) -> str:
    """nvcc's default list for ``cuda`` (unfiltered), ``+PTX`` on the last."""
    return with_ptx(nvcc_default_archs(cuda))


def wheel_platform(platform: str) -> str:
    """``sysconfig.get_platform()`` as a wheel tag: ``linux-x86_64`` -> ``linux_x86_64``."""
    return platform.replace('-', '_').replace('.', '_')


def wheel_glob(python_tag: str, abi_tag: str, platform: str) -> str:
    # macOS wheels name the deployment target, which need not be the interpreter's.
    plat = re.sub(r'^macosx_\d+_\d+_', 'macosx_*_', platform)
    return f'mmcv-{MMCV_VERSION}-{python_tag}-{abi_tag}-{plat}.whl'


def cuda_archs(nvcc_release: str, gpu_capabilities: List[tuple], env: Dict[str, str],
               torch_archs: Optional[Iterable[str]]) -> tuple:
    """(arch list, reason) for a CUDA build; an empty list when none can be built."""
    if env.get('TORCH_CUDA_ARCH_LIST'):
        return env['TORCH_CUDA_ARCH_LIST'], 'from TORCH_CUDA_ARCH_LIST, as given'
    accepted = None if torch_archs is None else {a.split('+')[0] for a in torch_archs}
    if gpu_capabilities:
        archs, notes = [], []
        for cap in sorted(set(tuple(c) for c in gpu_capabilities)):
            arch = f'{cap[0]}.{cap[1]}'
            if accepted is not None and arch not in accepted:
                # A GPU newer than torch knows (as torch itself does): the highest below,
                # whose PTX the GPU compiles.
                lower = [a for a in accepted if re.fullmatch(r'\d+\.\d+', a)
                         and arch_sort_key(a) <= arch_sort_key(arch)]
                if not lower:
                    notes.append(f'{arch} dropped (unknown to torch)')
                    continue
                notes.append(f'{arch} built as {max(lower, key=arch_sort_key)} '
                             '(torch knows no higher)')
                arch = max(lower, key=arch_sort_key)
            archs.append(arch)
        reason = 'the visible GPUs, +PTX on the highest' + ''.join(f'; {n}' for n in notes)
        return with_ptx(archs), reason
    default = nvcc_default_archs(nvcc_release)
    reason = f'no GPU visible: nvcc {nvcc_release} default'
    if accepted is None:
        return with_ptx(default), reason + " (torch's accepted names unknown: unfiltered)"
    refused = [a for a in default if a not in accepted]
    if refused:
        reason += f', less {", ".join(refused)} (refused by this torch)'
    return with_ptx([a for a in default if a in accepted]), reason


def plan(torch_version: str, torch_cuda: Optional[str], gpu_capabilities: List[tuple],
         nvcc_release: Optional[str], env: Dict[str, str], cores: int, mem_available_gb: float,
         has_ninja: bool, *, python_tag: str, platform: str,
         torch_archs: Optional[Iterable[str]], abi_tag: Optional[str] = None,
         cxx_std: str = MMCV_CXX_STD) -> BuildPlan:
    """The build for this machine (pure: every query is an argument).

    ``python_tag``/``abi_tag``: the wheel tags of the interpreter (``'cp311'``; the ABI
    tag defaults to the Python tag); ``platform``: the wheel platform tag
    (``'linux_x86_64'``); ``torch_archs``: the arch names the installed torch's
    extension builder accepts (None: unknown); ``cxx_std``: the C++ standard torch's
    headers need (:func:`torch_cxx_std`).
    """
    abi_tag = abi_tag or python_tag
    arch_list, arch_reason = '', ''
    requested = env.get(OPS_ENV, '').strip().lower()
    if requested not in ('', 'auto', 'cpu', 'cuda'):
        raise ValueError(f'{OPS_ENV}={env[OPS_ENV]!r}: use cuda, cpu or auto')
    if requested == 'cpu':
        ops, reason = 'cpu', f'CPU ops: asked for ({OPS_ENV}=cpu)'
    elif torch_cuda is None:
        ops, reason = 'cpu', 'CPU ops: torch is a CPU build'
    elif nvcc_release is None:
        ops, reason = 'cpu', (f'CPU ops: torch is built for CUDA {torch_cuda} but no nvcc was '
                              'found (set CUDA_HOME to the CUDA toolkit to build CUDA ops)')
    elif nvcc_release.split('.')[0] != torch_cuda.split('.')[0]:
        ops, reason = 'cpu', (f'CPU ops: nvcc is CUDA {nvcc_release}, torch needs CUDA '
                              f'{torch_cuda.split(".")[0]}.x (point CUDA_HOME at a matching '
                              'toolkit to build CUDA ops)')
    elif not gpu_capabilities and not env.get('TORCH_CUDA_ARCH_LIST') and requested != 'cuda':
        ops, reason = 'cpu', (f'CPU ops: no GPU visible (torch CUDA {torch_cuda} and nvcc '
                              f'{nvcc_release} found: set TORCH_CUDA_ARCH_LIST, e.g. "8.0;9.0", '
                              f'or {OPS_ENV}=cuda to build CUDA ops anyway)')
    else:
        ops, reason = 'cuda', f'CUDA ops: torch CUDA {torch_cuda}, nvcc {nvcc_release}'
        if not gpu_capabilities:
            reason += (' (no GPU visible: asked for by TORCH_CUDA_ARCH_LIST'
                       if env.get('TORCH_CUDA_ARCH_LIST') else
                       f' (no GPU visible: asked for by {OPS_ENV}=cuda') + ')'
        arch_list, arch_reason = cuda_archs(nvcc_release, gpu_capabilities, env,
                                            torch_archs)
        if not arch_list:
            ops, reason = 'cpu', (f'CPU ops: no GPU architecture both nvcc {nvcc_release} and '
                                  f'torch {torch_version} build ({arch_reason}; set '
                                  'TORCH_CUDA_ARCH_LIST to build CUDA ops)')
            arch_reason = ''
    if env.get('MAX_JOBS'):
        jobs = int(env['MAX_JOBS'])
    elif not has_ninja:
        jobs = 1
    else:
        jobs = max(1, min(cores, int(mem_available_gb // GB_PER_JOB[ops])))
    interp = python_tag if abi_tag == python_tag else f'{python_tag}-{abi_tag}'
    prefix = f'torch-{torch_version.replace("+", "_")}-ops-'
    suffix = f'-{interp}-{platform}'
    cpu_key = f'{prefix}cpu{suffix}'
    arch_key = normalise_arch_list(arch_list) if ops == 'cuda' else ''
    if ops == 'cuda':
        digest = hashlib.sha1(arch_key.encode()).hexdigest()[:10]
        key = f'{prefix}cu{torch_cuda}-nvcc{nvcc_release}-arch-{digest}{suffix}'
    else:
        key = cpu_key
    return BuildPlan(ops, reason, arch_list, arch_reason, jobs, key, cpu_key, arch_key,
                     wheel_glob(python_tag, abi_tag, platform), cxx_std)


def mem_available_gb() -> float:
    try:
        with open('/proc/meminfo') as f:
            for line in f:
                if line.startswith('MemAvailable:'):
                    return int(line.split()[1]) / 2 ** 20
    except OSError:
        pass
    return 8.0


def interpreter_tags() -> tuple:
    """(Python tag, ABI tag) of this interpreter as bdist_wheel names them: ('cp311', 'cp311');
    free-threaded 3.13: ('cp313', 'cp313t')."""
    impl = {'cpython': 'cp', 'pypy': 'pp'}.get(sys.implementation.name, sys.implementation.name)
    python_tag = f'{impl}{sys.version_info[0]}{sys.version_info[1]}'
    soabi = sysconfig.get_config_var('SOABI') or ''
    if soabi.startswith('cpython-'):
        abi_tag = 'cp' + soabi.split('-')[1]
    elif soabi:
        abi_tag = soabi.replace('-', '_').replace('.', '_')
    else:
        abi_tag = python_tag
    return python_tag, abi_tag


def torch_accepted_archs(cpp_extension=None, candidates: Iterable[str] = ()
                         ) -> Optional[List[str]]:
    """The arch names (``'8.0'``, ``'9.0a'``; no ``+PTX``) that the installed torch's
    extension builder accepts in ``TORCH_CUDA_ARCH_LIST``; None if they cannot be read.

    The only private access to torch in this script. torch names them nowhere public:
    ``torch.utils.cpp_extension._get_cuda_arch_flags`` checks each entry against a
    literal ``supported_arches`` list (``valid_arch_strings`` adds the ``+PTX`` forms;
    torch 2.6 stops at 9.0a, 2.7 adds 10.0 and 12.0) and raises
    ``ValueError('Unknown CUDA arch ...')`` for any other. So: that literal, parsed from
    the module's source; failing that (renamed, no source), each of ``candidates`` put
    to ``_get_cuda_arch_flags`` through the environment; failing that, None.
    """
    try:
        if cpp_extension is None:
            import torch.utils.cpp_extension as cpp_extension
        tree = ast.parse(inspect.getsource(cpp_extension))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Assign) and isinstance(node.value, ast.List)
                    and any(isinstance(t, ast.Name) and t.id == 'supported_arches'
                            for t in node.targets)):
                archs = [e.value for e in node.value.elts
                         if isinstance(e, ast.Constant) and isinstance(e.value, str)]
                if archs:
                    return archs
    except Exception:  # any failure: try the next way
        pass
    flags = getattr(cpp_extension, '_get_cuda_arch_flags', None)
    candidates = list(candidates)
    if flags is None or not candidates:
        return None
    saved = os.environ.get('TORCH_CUDA_ARCH_LIST')
    accepted = []
    try:
        for arch in candidates:
            os.environ['TORCH_CUDA_ARCH_LIST'] = arch
            try:
                flags()
            except ValueError:
                continue
            accepted.append(arch)
    except Exception:  # not the function we know
        return None
    finally:
        if saved is None:
            os.environ.pop('TORCH_CUDA_ARCH_LIST', None)
        else:
            os.environ['TORCH_CUDA_ARCH_LIST'] = saved
    return accepted


def main() -> None:
    import torch  # the venv's torch: this runs inside the venv being installed
    gpus = []
    if torch.version.cuda is not None and torch.cuda.is_available():
        gpus = [torch.cuda.get_device_capability(i) for i in range(torch.cuda.device_count())]
    env = dict(os.environ)
    torch_archs = None
    if torch.version.cuda is not None:
        candidates = {a for _, archs in DEFAULT_ARCHS for a in archs}
        candidates |= {f'{a}.{b}' for a, b in gpus}
        torch_archs = torch_accepted_archs(candidates=sorted(candidates, key=arch_sort_key))
    python_tag, abi_tag = interpreter_tags()
    try:
        with open(os.path.join(os.path.dirname(torch.__file__), 'include', 'ATen',
                               'ATen.h')) as f:
            aten_header = f.read(4096)
    except OSError:
        aten_header = None
    try:
        result = plan(torch.__version__, torch.version.cuda, gpus,
                      nvcc_version(find_nvcc(env)) if torch.version.cuda else None, env,
                      os.cpu_count() or 1, mem_available_gb(),
                      shutil.which('ninja') is not None,
                      python_tag=python_tag, abi_tag=abi_tag,
                      platform=wheel_platform(sysconfig.get_platform()),
                      torch_archs=torch_archs,
                      cxx_std=torch_cxx_std(aten_header, torch.__version__))
    except ValueError as error:
        sys.exit(f'[install] {error}')
    print(result.shell())


if __name__ == '__main__':
    main()
