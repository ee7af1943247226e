# Entry points. `make demo` and `make test` do all set-up on a fresh machine.
# VENV=$VIRTUAL_ENV (or $CONDA_PREFIX) installs into an existing environment.
VENV ?= .venv
export VENV
PY := $(VENV)/bin/python
DEMO_CONFIG := configs/demo/deeplabv3plus_r18-d8_demo.py

.PHONY: install demo test test-all clean-demo

install:
	bash scripts/install.sh

demo: install
	bash scripts/demo.sh

test: install
	$(PY) -m pytest -q tests

test-all: install
	$(PY) -m pytest -q -m "slow or not slow" tests

clean-demo:
	rm -rf data/demo work_dirs/demo
