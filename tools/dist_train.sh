#!/usr/bin/env bash
# Usage: tools/dist_train.sh CONFIG GPUS [train.py args...]
# GPUS processes via torchrun (CPU processes over gloo where there is no GPU).
exec "$(dirname "$0")/torchrun.sh" train.py "$2" "$1" "${@:3}"
