#!/usr/bin/env bash
# Create .venv and install the MMSeg stack + crossspec_mmseg into it.
#
# Idempotent: a second run only checks what is there (seconds). mmcv 2.1.0 is
# source-only on PyPI, so it is built once with its compiled ops (a cold CPU
# build takes about 6.5 minutes on 2 cores, without debug info) and the wheel is kept in
# .wheelcache/ (git-ignored) and a user-level cache, keyed by all it was built
# for: the torch build, the ops (CPU or CUDA), the CUDA versions, the GPU
# architectures, the Python tag and the platform. Only a wheel whose file name
# carries this interpreter's tags is taken from a cache.
#
# Torch: an existing torch is kept (users bring their CUDA build): the venv sees
# the base interpreter's, or install into your own environment with
# `make install VENV=$VIRTUAL_ENV` (or VENV=$CONDA_PREFIX): nothing is created
# then and its torch is used. Otherwise torch==2.13.0.
# mmcv: CUDA or CPU ops, GPU architectures, parallel jobs and cache key are
# decided (and announced) by scripts/mmcv_build_plan.py.

# The cached mmcv wheel: the first file named like $1 (a glob such as
# mmcv-2.1.0-cp311-cp311-linux_x86_64.whl, MMCV_WHEEL_GLOB) in the folders after it.
cached_wheel() {
  local glob=$1 dir file
  shift
  for dir in "$@"; do
    for file in "$dir"/$glob; do
      if [ -f "$file" ]; then printf '%s\n' "$file"; return 0; fi
    done
  done
  return 1
}
# Sourced (the tests do): only the functions above.
if [ "${BASH_SOURCE[0]}" != "$0" ]; then return 0; fi

set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
WHEELCACHE=${WHEELCACHE:-.wheelcache}
# A user-level copy lets fresh clones on the same machine skip the build.
USERCACHE=${CROSSSPEC_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/crossspec_mmseg/wheels}
STAMP="$VENV/.crossspec-installed"

say() { printf '[install] %s\n' "$*"; }

if [ -f "$STAMP" ] && [ "$STAMP" -nt setup.py ] && [ "$STAMP" -nt scripts/install.sh ] \
   && [ "$STAMP" -nt requirements/runtime.txt ] && [ "$STAMP" -nt requirements/tests.txt ] \
   && "$VENV/bin/python" -c "import mmcv.ops, mmseg, crossspec_mmseg" 2>/dev/null; then
  say "environment up to date ($VENV)"
  exit 0
fi

if [ ! -x "$VENV/bin/python" ]; then
  if "$PYTHON" -c "import torch" 2>/dev/null; then
    say "base interpreter has torch $("$PYTHON" -c 'import torch; print(torch.__version__)'): venv will reuse it"
    "$PYTHON" -m venv --system-site-packages "$VENV"
  else
    "$PYTHON" -m venv "$VENV"
  fi
fi
PY="$VENV/bin/python"
export PATH="$(cd "$VENV/bin" && pwd):$PATH"  # the venv's ninja for the mmcv build
PIP=("$PY" -m pip install --disable-pip-version-check -q)
# pip's noise: local index paths this machine's pip.conf lists, editable-install banners,
# and the setuptools conflict of the mmcv build step (the pin is restored right after).
NOISE='is ignored: it is neither|BuildBackendWarning|^ *!!|\*{20}|Please be careful|name as your package|with strategy, WheelFile|^ *$|dependency resolver does not currently|requires setuptools>='
pip_install() { "${PIP[@]}" "$@" 2>&1 | { grep -vE "$NOISE" || true; }; }

pip_install --upgrade "pip>=23" wheel

if ! "$PY" -c "import torch" 2>/dev/null; then
  say "installing torch==2.13.0"
  pip_install torch==2.13.0 numpy
fi
# torch < 2.3 cannot use numpy 2, which opencv's latest wheels pull in.
CONSTRAINTS=()
if "$PY" -c "import sys, torch; sys.exit(tuple(map(int, torch.__version__.split('.')[:2])) >= (2, 3))"; then
  say "torch $("$PY" -c 'import torch; print(torch.__version__)') < 2.3: pinning numpy<2"
  printf 'numpy<2\n' > "$VENV/.crossspec-constraints.txt"
  CONSTRAINTS=(-c "$VENV/.crossspec-constraints.txt")
fi

# Everything mmcv/mmseg/the package need, before mmcv so its build sees them
# (mmcv picks opencv-python-headless when that is already installed).
pip_install ${CONSTRAINTS[@]+"${CONSTRAINTS[@]}"} -r requirements.txt

# A prebuilt mmcv 2.1.0 wheel from the OpenMMLab index where one exists
# (torch <= 2.1), before compiling.
try_prebuilt_mmcv() {
  local url
  url=$("$PY" - <<'PYEOF'
import torch
v = '.'.join(torch.__version__.split('+')[0].split('.')[:2])
if tuple(map(int, v.split('.'))) <= (2, 1):
    cuda = 'cu' + torch.version.cuda.replace('.', '') if torch.version.cuda else 'cpu'
    print(f'https://download.openmmlab.com/mmcv/dist/{cuda}/torch{v}/index.html')
PYEOF
)
  [ -n "$url" ] || return 1
  say "trying a prebuilt mmcv 2.1.0 from $url"
  "${PIP[@]}" --only-binary mmcv --timeout 20 --retries 0 -f "$url" mmcv==2.1.0 2>/dev/null \
    && "$PY" -c "import mmcv.ops" 2>/dev/null
}

build_mmcv() {  # $1: cuda or cpu; the wheel lands in $CACHE
  mkdir -p "$CACHE"
  # Python's own CFLAGS carry -g: debug info doubles each op file's compile time
  # (16.5 s -> 8.8 s for roi_align.cpp on this 2-core VM) and the wheel's size.
  # -g0 after it turns that off; a user's CFLAGS are kept.
  local cflags="${CFLAGS:-} -g0"
  local wheel=("$PY" -m pip wheel -q --no-deps --no-build-isolation --no-binary mmcv -w "$CACHE"
               mmcv==2.1.0)
  if [ "$1" = cuda ]; then
    CFLAGS="$cflags" FORCE_CUDA=1 TORCH_CUDA_ARCH_LIST="$MMCV_ARCH_LIST" MMCV_WITH_OPS=1 \
      MAX_JOBS="$MMCV_MAX_JOBS" "${wheel[@]}" 2>&1 | { grep -vE "$NOISE" || true; }
  else  # hide GPUs: mmcv's setup.py builds CUDA ops whenever one is visible
    CFLAGS="$cflags" CUDA_VISIBLE_DEVICES= FORCE_CUDA=0 MMCV_WITH_OPS=1 \
      MAX_JOBS="$MMCV_MAX_JOBS" \
      "${wheel[@]}" 2>&1 | { grep -vE "$NOISE" || true; }
  fi
}

if "$PY" -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '2.1.0'" 2>/dev/null; then
  say "mmcv 2.1.0 with ops already installed"
elif try_prebuilt_mmcv; then
  say "installed a prebuilt mmcv 2.1.0"
else
  pip_install ninja  # parallel compilation (without it the build is serial)
  PLAN=$("$PY" scripts/mmcv_build_plan.py)
  eval "$PLAN"
  say "$MMCV_OPS_REASON"
  [ -z "$MMCV_ARCH_LIST" ] || say "GPU architectures: $MMCV_ARCH_LIST ($MMCV_ARCH_REASON)"
  say "mmcv wheel cache key: $MMCV_CACHE_KEY${MMCV_ARCH_KEY:+ (arch hash of '$MMCV_ARCH_KEY')}"
  CACHE="$WHEELCACHE/$MMCV_CACHE_KEY"
  WHEEL=$(cached_wheel "$MMCV_WHEEL_GLOB" "$CACHE" "$USERCACHE/$MMCV_CACHE_KEY" || true)
  if [ -z "$WHEEL" ]; then
    say "building mmcv 2.1.0 ($MMCV_OPS ops, $MMCV_MAX_JOBS jobs; cached afterwards; CPU ops"
    say "take about 6.5 minutes on 2 cores, CUDA ops longer)"
    # mmcv 2.1.0's setup.py needs setuptools<70 to build; the runtime pin
    # from requirements/runtime.txt is restored right after.
    pip_install "setuptools<70"
    if ! build_mmcv "$MMCV_OPS"; then
      [ "$MMCV_OPS" = cuda ] || exit 1
      say "WARNING: the CUDA build of mmcv failed; building CPU ops instead (no shipped config"
      say "WARNING: uses mmcv.ops; fix CUDA_HOME/TORCH_CUDA_ARCH_LIST and rerun for CUDA ops)"
      MMCV_CACHE_KEY=$MMCV_CPU_CACHE_KEY
      CACHE="$WHEELCACHE/$MMCV_CACHE_KEY"
      WHEEL=$(cached_wheel "$MMCV_WHEEL_GLOB" "$CACHE" "$USERCACHE/$MMCV_CACHE_KEY" || true)
      [ -n "$WHEEL" ] || build_mmcv cpu
    fi
    if [ -z "$WHEEL" ]; then
      WHEEL=$(cached_wheel "$MMCV_WHEEL_GLOB" "$CACHE" || true)
      if [ -z "$WHEEL" ]; then  # tags other than expected: install it, no later cache hit
        WHEEL=$(ls -t "$CACHE"/mmcv-2.1.0-*.whl | head -n1)
        say "WARNING: built $(basename "$WHEEL"), expected $MMCV_WHEEL_GLOB"
      fi
      mkdir -p "$USERCACHE/$MMCV_CACHE_KEY" && cp "$WHEEL" "$USERCACHE/$MMCV_CACHE_KEY/" || true
    fi
    pip_install "$(grep '^setuptools' requirements/runtime.txt | cut -d' ' -f1)"
  fi
  say "installing $WHEEL"
  pip_install --no-deps "$WHEEL"
fi

pip_install --no-deps --no-build-isolation -e .
"$PY" -c "import mmcv.ops, mmseg, crossspec_mmseg; print('[install] ok: mmcv', mmcv.__version__, '| mmseg', mmseg.__version__)"
touch "$STAMP"
