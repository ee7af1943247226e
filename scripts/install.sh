#!/usr/bin/env bash
# Create .venv and install the MMSeg stack + crossspec_mmseg into it.
#
# Idempotent: a second run only checks what is there (seconds). mmcv 2.1.0 is
# source-only on PyPI, so it is built once with its compiled ops and the wheel
# is kept in .wheelcache/ (git-ignored), keyed by the torch build it was
# compiled against.
#
# Torch: an existing torch is kept (users bring their CUDA build); the venv
# sees it when the base interpreter already has one. Otherwise torch==2.13.0.
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
PIP=("$PY" -m pip install --disable-pip-version-check -q)
# pip's noise: local index paths this machine's pip.conf lists, editable-install banners.
NOISE='is ignored: it is neither|BuildBackendWarning|^ *!!|\*{20}|Please be careful|name as your package|with strategy, WheelFile|^ *$'
pip_install() { "${PIP[@]}" "$@" 2>&1 | { grep -vE "$NOISE" || true; }; }

pip_install --upgrade "pip>=23" wheel

if ! "$PY" -c "import torch" 2>/dev/null; then
  say "installing torch==2.13.0"
  pip_install torch==2.13.0 numpy
fi
TORCH_TAG=$("$PY" -c 'import torch; print(torch.__version__.replace("+", "_"))')

# Everything mmcv/mmseg/the package need, before mmcv so its build sees them
# (mmcv picks opencv-python-headless when that is already installed).
pip_install -r requirements.txt

if "$PY" -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '2.1.0'" 2>/dev/null; then
  say "mmcv 2.1.0 with ops already installed"
else
  CACHE="$WHEELCACHE/torch-$TORCH_TAG"
  WHEEL=$(ls "$CACHE"/mmcv-2.1.0-*.whl "$USERCACHE/torch-$TORCH_TAG"/mmcv-2.1.0-*.whl \
          2>/dev/null | head -n1 || true)
  if [ -z "$WHEEL" ]; then
    mkdir -p "$CACHE"
    if command -v nvcc >/dev/null && "$PY" -c "import torch, sys; sys.exit(not torch.cuda.is_available() and torch.version.cuda is None)"; then
      export FORCE_CUDA=1
      say "building mmcv 2.1.0 with CUDA ops (nvcc found)"
    else
      say "building mmcv 2.1.0 with CPU ops (about 10 min on 2 cores; cached afterwards)"
    fi
    # mmcv 2.1.0's setup.py needs setuptools<70 to build; the runtime pin
    # from requirements.txt is restored right after.
    pip_install "setuptools<70"
    MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-$(nproc)} "$PY" -m pip wheel -q --no-deps \
      --no-build-isolation --no-binary mmcv -w "$CACHE" mmcv==2.1.0
    WHEEL=$(ls "$CACHE"/mmcv-2.1.0-*.whl | head -n1)
    mkdir -p "$USERCACHE/torch-$TORCH_TAG" && cp "$WHEEL" "$USERCACHE/torch-$TORCH_TAG/" || true
    pip_install "$(grep '^setuptools' requirements.txt | cut -d' ' -f1)"
  fi
  say "installing $WHEEL"
  pip_install --no-deps "$WHEEL"
fi

pip_install --no-deps --no-build-isolation -e .
"$PY" -c "import mmcv.ops, mmseg, crossspec_mmseg; print('[install] ok: mmcv', mmcv.__version__, '| mmseg', mmseg.__version__)"
touch "$STAMP"
