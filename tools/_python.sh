# Sourced by the launchers: sets PYTHON, the interpreter they run.
# PYTHON=... wins; otherwise the project's .venv (made by `make install`) when
# it exists; otherwise `python` from PATH (an activated environment).
_repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -z "${PYTHON:-}" ]; then
  if [ -x "$_repo_root/.venv/bin/python" ]; then
    PYTHON="$_repo_root/.venv/bin/python"
  else
    PYTHON=python
  fi
fi
