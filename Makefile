# Entry points. `make demo` and `make test` do all set-up on a fresh machine.
# VENV=$VIRTUAL_ENV (or $CONDA_PREFIX) installs into an existing environment.
VENV ?= .venv
export VENV
PY := $(VENV)/bin/python

.PHONY: install demo demo-nuclei lint test test-fast test-all clean-demo

install:
	bash scripts/install.sh

demo: install
	bash scripts/demo.sh

# Typed nuclei: synthetic PanNuke/CoNSeP/MoNuSAC, B alone vs A then B (docs/nuclei.md).
demo-nuclei: install
	bash scripts/demo_nuclei.sh

lint: install
	$(PY) -m ruff check .

# The full suite CI runs (every guarantee), after lint.
test: lint
	$(PY) -m pytest -q tests

# The inner loop: no subprocess, launcher or multi-config tests.
test-fast: install
	$(PY) -m pytest -q -m "not slow and not heavy" tests

test-all: lint
	$(PY) -m pytest -q -m "slow or not slow" tests

clean-demo:
	rm -rf data/demo work_dirs/demo data/demo_nuclei work_dirs/demo_nuclei
