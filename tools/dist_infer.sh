#!/usr/bin/env bash
# Usage: tools/dist_infer.sh CONFIG CHECKPOINT GPUS SLIDES... --out DIR [infer_slide.py args...]
# GPUS processes via torchrun (CPU processes where there is no GPU); rank r
# predicts slides r, r + GPUS, ... on cuda:LOCAL_RANK (--device cuda). Each slide
# is written atomically and skipped when done, so a rerun finishes the rest.
exec "$(dirname "$0")/torchrun.sh" infer_slide.py "$3" "$1" "$2" "${@:4}"
