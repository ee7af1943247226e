#!/usr/bin/env bash
# Usage: tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py args...]
# GPUS processes via torchrun (CPU processes over gloo where there is no GPU).
exec "$(dirname "$0")/torchrun.sh" test.py "$3" "$1" "$2" "${@:4}"
