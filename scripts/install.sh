#!/usr/bin/env bash
# Create .venv and install the MMSeg stack + crossspec_mmseg into it.
#
# Idempotent: a second run only checks what is there (seconds). mmcv 2.1.0 is
# source-only on PyPI, so it is built once with its compiled ops from its sdist
# (a cold CPU build takes about 7 minutes on 2 cores, without debug info) and
# the wheel is kept in .wheelcache/ (git-ignored) and a user-level cache, keyed
# by all it was built for: the torch build, the ops (CPU or CUDA), the CUDA
# versions, the GPU architectures, the Python tag and the platform. Only a wheel
# whose file name carries this interpreter's tags is taken from a cache.
#
# Torch: an existing torch is kept (users bring their CUDA build): the venv sees
# the base interpreter's, or install into your own environment with
# `make install VENV=$VIRTUAL_ENV` (or VENV=$CONDA_PREFIX): nothing is created
# then and its torch is used; it needs a working torchvision (timm imports it),
# else the script stops and names the one to install. Otherwise the pair
# torch==2.14.1 torchvision==0.29.1 (torch_action below), which also replaces the
# torch 2.13.0 earlier versions of this script installed (without torchvision).
# mmcv: CUDA or CPU ops, GPU architectures, parallel jobs, C++ standard and
# cache key are decided (and announced) by scripts/mmcv_build_plan.py.

# The torch this script installs, with the torchvision built for it.
TORCH_VERSION=2.14.1
TORCHVISION_VERSION=0.29.1
LEGACY_TORCH=2.13.0+cpu  # what this script installed before (no torchvision)

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

# What to do with the environment's torch: prints install (the pair above), keep or stop.
#   $1: torch.__version__, '' when torch does not import
#   $2: yes when this script installed that torch (a marker in the environment, or
#       the torch 2.13.0+cpu of an environment an earlier version stamped)
#   $3: yes when `import torchvision` works
torch_action() {
  local version=$1 ours=$2 vision=$3
  if [ -z "$version" ]; then
    echo install
  elif [ "$ours" = yes ] && { [ "$vision" != yes ] || [ "${version%%+*}" != "$TORCH_VERSION" ]; }; then
    echo install
  elif [ "$vision" = yes ]; then
    echo keep
  else
    echo stop
  fi
}

# The one line that says which torchvision the user's torch $1 needs.
torchvision_hint() {
  local version=$1 release local_tag major minor vision index=''
  release=${version%%+*}
  local_tag=${version#"$release"}
  local_tag=${local_tag#+}
  major=${release%%.*}
  minor=${release#*.}
  minor=${minor%%.*}
  if [ "$major" = 2 ]; then vision="0.$((minor + 15)).*"
  elif [ "$major" = 1 ]; then vision="0.$((minor + 1)).*"
  else vision=''
  fi
  case $local_tag in
    cu[0-9]*|cpu|rocm*) index=" --index-url https://download.pytorch.org/whl/$local_tag" ;;
  esac
  if [ -n "$vision" ]; then
    printf '%s\n' "torch $version here has no working torchvision (timm imports it): install the one built for it, pip install 'torchvision==$vision'$index, then rerun"
  else
    printf '%s\n' "torch $version here has no working torchvision (timm imports it): install the torchvision release made for torch $release, then rerun"
  fi
}

# mmcv 2.1.0's setup.py hard-codes -std=c++17 (cxx and nvcc) for torch > 1.12.1;
# torch 2.14's headers stop with '#error C++20 or later compatible compiler is
# required'. Rewrites those flags in the extracted sdist $1 to $2 (c++20); fails
# when there is none to rewrite (another setup.py).
patch_mmcv_std() {
  local setup=$1/setup.py std=$2
  grep -qE 'std[=:]c\+\+17' "$setup" || return 1
  sed -i -E "s/(std[=:])c\+\+17/\1$std/g" "$setup"
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

TORCH_MARKER="$VENV/.crossspec-torch"  # this script installed the environment's torch
T0=$SECONDS

if [ -f "$STAMP" ] && [ "$STAMP" -nt setup.py ] && [ "$STAMP" -nt scripts/install.sh ] \
   && [ "$STAMP" -nt scripts/mmcv_build_plan.py ] && [ "$STAMP" -nt requirements.txt ] \
   && [ "$STAMP" -nt requirements/runtime.txt ] && [ "$STAMP" -nt requirements/tests.txt ] \
   && "$VENV/bin/python" -c "import mmcv.ops, mmseg, crossspec_mmseg, timm, peft" 2>/dev/null; then
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
VENV_BIN=$(cd "$VENV/bin" && pwd)
PY="$VENV_BIN/python"  # absolute: mmcv is built from its own folder
export PATH="$VENV_BIN:$PATH"  # the venv's ninja for the mmcv build
PIP=("$PY" -m pip install --disable-pip-version-check -q)
# pip's noise: local index paths this machine's pip.conf lists, editable-install banners,
# and the setuptools conflict of the mmcv build step (the pin is restored right after).
NOISE='is ignored: it is neither|BuildBackendWarning|^ *!!|\*{20}|Please be careful|name as your package|with strategy, WheelFile|^ *$|dependency resolver does not currently|requires setuptools>='
pip_install() { "${PIP[@]}" "$@" 2>&1 | { grep -vE "$NOISE" || true; }; }

pip_install --upgrade "pip>=23" wheel

# torch and torchvision (timm imports torchvision; one that does not match torch
# fails with "operator torchvision::nms does not exist").
torch_version() { "$PY" -c "import torch; print(torch.__version__)" 2>/dev/null || true; }
TORCH_HAVE=$(torch_version)
OURS=no
if [ -n "$TORCH_HAVE" ] && "$PY" -c "import os, sys, torch
sys.exit(not os.path.realpath(torch.__file__).startswith(os.path.realpath(sys.prefix) + os.sep))" \
   2>/dev/null; then  # in the environment itself, not a base interpreter's seen through the venv
  if [ -f "$TORCH_MARKER" ] || { [ "$TORCH_HAVE" = "$LEGACY_TORCH" ] && [ -f "$STAMP" ]; }; then
    OURS=yes
  fi
fi
VISION=no
if [ -n "$TORCH_HAVE" ] && "$PY" -c "import torchvision" 2>/dev/null; then VISION=yes; fi
TORCH_INSTALLED=no
case $(torch_action "$TORCH_HAVE" "$OURS" "$VISION") in
  install)
    if [ -n "$TORCH_HAVE" ]; then
      say "replacing torch $TORCH_HAVE (this script's) with torch==$TORCH_VERSION torchvision==$TORCHVISION_VERSION"
    else
      say "installing torch==$TORCH_VERSION torchvision==$TORCHVISION_VERSION"
    fi
    pip_install "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION" numpy
    printf 'torch==%s torchvision==%s, installed by scripts/install.sh\n' \
      "$TORCH_VERSION" "$TORCHVISION_VERSION" > "$TORCH_MARKER"
    TORCH_INSTALLED=yes
    TORCH_HAVE=$(torch_version)
    ;;
  stop)
    printf '[install] %s\n' "$(torchvision_hint "$TORCH_HAVE")" >&2
    exit 1
    ;;
esac
# The environment's torch and torchvision stay as they are (timm would otherwise pull
# the newest torchvision, and with it another torch); torch < 2.3 cannot use numpy 2,
# which opencv's latest wheels pull in.
# (pip's versions: the wheels on PyPI call themselves 2.14.1, torch.__version__ 2.14.1+cu130)
"$PY" -c "import importlib.metadata as md, torch
for name in ('torch', 'torchvision'):
    try:
        print(f'{name}=={md.version(name)}')
    except md.PackageNotFoundError:  # a source checkout: nothing to pin
        pass
if tuple(map(int, torch.__version__.split('.')[:2])) < (2, 3):
    print('numpy<2')" > "$VENV/.crossspec-constraints.txt"
CONSTRAINTS=(-c "$VENV/.crossspec-constraints.txt")
if grep -q '^numpy<2' "$VENV/.crossspec-constraints.txt"; then
  say "torch $TORCH_HAVE < 2.3: pinning numpy<2"
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
  local out src="$BUILD_TMP/mmcv-2.1.0" log="$BUILD_TMP/build-$1.log"
  out=$(cd "$CACHE" && pwd)
  # From the sdist, extracted afresh for each build (a failed CUDA build leaves
  # objects behind).
  if [ ! -f "$BUILD_TMP/mmcv-2.1.0.tar.gz" ]; then
    "$PY" -m pip download -q --disable-pip-version-check --no-cache-dir --no-deps \
      --no-binary :all: --no-build-isolation -d "$BUILD_TMP" mmcv==2.1.0 2>&1 \
      | { grep -vE "$NOISE" || true; } || return 1
  fi
  rm -rf "$src"
  tar -xzf "$BUILD_TMP/mmcv-2.1.0.tar.gz" -C "$BUILD_TMP" || return 1
  if [ "$MMCV_CXX_STD" != c++17 ]; then
    if ! patch_mmcv_std "$src" "$MMCV_CXX_STD"; then
      say "ERROR: no -std=c++17 in mmcv's setup.py to raise to $MMCV_CXX_STD"
      return 1
    fi
    say "torch $TORCH_HAVE's headers need ${MMCV_CXX_STD^^}: mmcv's -std=c++17 patched to $MMCV_CXX_STD"
  fi
  # Python's own CFLAGS carry -g: debug info doubles each op file's compile time
  # (16.5 s -> 8.8 s for roi_align.cpp on this 2-core VM) and the wheel's size.
  # -g0 after it turns that off; a user's CFLAGS are kept. --no-cache-dir: pip's
  # own wheel cache once handed back a wheel built against another torch.
  local cflags="${CFLAGS:-} -g0"
  local wheel=("$PY" -m pip wheel -q --disable-pip-version-check --no-cache-dir --no-deps
               --no-build-isolation -w "$out" .)
  # The log (setuptools' warnings about mmcv's layout fill pages) is shown if it fails.
  if [ "$1" = cuda ]; then
    (cd "$src" && CFLAGS="$cflags" FORCE_CUDA=1 TORCH_CUDA_ARCH_LIST="$MMCV_ARCH_LIST" \
      MMCV_WITH_OPS=1 MAX_JOBS="$MMCV_MAX_JOBS" "${wheel[@]}") > "$log" 2>&1
  else  # hide GPUs: mmcv's setup.py builds CUDA ops whenever one is visible
    (cd "$src" && CFLAGS="$cflags" CUDA_VISIBLE_DEVICES= FORCE_CUDA=0 MMCV_WITH_OPS=1 \
      MAX_JOBS="$MMCV_MAX_JOBS" "${wheel[@]}") > "$log" 2>&1
  fi || {
    mkdir -p "$WHEELCACHE" && cp "$log" "$WHEELCACHE/mmcv-build-$1.log"
    tail -n 30 "$log" | grep -vE "$NOISE" >&2
    say "the $1 build of mmcv failed; its log: $WHEELCACHE/mmcv-build-$1.log"
    return 1
  }
}

# An mmcv built against the torch just replaced is not kept.
if [ "$TORCH_INSTALLED" = no ] \
   && "$PY" -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '2.1.0'" 2>/dev/null; then
  say "mmcv 2.1.0 with ops already installed"
elif try_prebuilt_mmcv; then
  say "installed a prebuilt mmcv 2.1.0"
else
  pip_install ninja  # parallel compilation (without it the build is serial)
  BUILD_TMP=$(mktemp -d "${TMPDIR:-/tmp}/crossspec-mmcv.XXXXXX")
  trap 'rm -rf "$BUILD_TMP"' EXIT
  # torch's extension module warns on import when it finds no CUDA runtime: no news here
  PLAN=$("$PY" scripts/mmcv_build_plan.py 2>"$BUILD_TMP/plan.err") \
    || { cat "$BUILD_TMP/plan.err" >&2; exit 1; }
  grep -v 'No CUDA runtime is found' "$BUILD_TMP/plan.err" >&2 || true
  eval "$PLAN"
  say "$MMCV_OPS_REASON"
  [ -z "$MMCV_ARCH_LIST" ] || say "GPU architectures: $MMCV_ARCH_LIST ($MMCV_ARCH_REASON)"
  say "mmcv wheel cache key: $MMCV_CACHE_KEY${MMCV_ARCH_KEY:+ (arch hash of '$MMCV_ARCH_KEY')}"
  CACHE="$WHEELCACHE/$MMCV_CACHE_KEY"
  WHEEL=$(cached_wheel "$MMCV_WHEEL_GLOB" "$CACHE" "$USERCACHE/$MMCV_CACHE_KEY" || true)
  if [ -z "$WHEEL" ]; then
    say "building mmcv 2.1.0 ($MMCV_OPS ops, $MMCV_MAX_JOBS jobs; cached afterwards; CPU ops"
    say "take about 7 minutes on 2 cores, CUDA ops longer)"
    BUILD_T0=$SECONDS
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
    say "mmcv built in $(( (SECONDS - BUILD_T0) / 60 ))m$(( (SECONDS - BUILD_T0) % 60 ))s"
    pip_install "$(grep '^setuptools' requirements/runtime.txt | cut -d' ' -f1)"
  fi
  say "installing $WHEEL"
  pip_install --no-deps --force-reinstall "$WHEEL"
fi

pip_install --no-deps --no-build-isolation -e .
"$PY" -c "import torch, torchvision, timm, peft, mmcv.ops, mmseg, crossspec_mmseg
print(f'[install] ok: torch {torch.__version__} | torchvision {torchvision.__version__} | '
      f'timm {timm.__version__} | peft {peft.__version__} | mmcv {mmcv.__version__} | '
      f'mmseg {mmseg.__version__}')"
say "done in $(( (SECONDS - T0) / 60 ))m$(( (SECONDS - T0) % 60 ))s"
touch "$STAMP"
