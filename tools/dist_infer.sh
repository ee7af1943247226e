#!/usr/bin/env bash
# Usage: tools/dist_infer.sh CONFIG CHECKPOINT GPUS [SLIDES...] [--slides-from LIST] --out DIR
#        [infer_slide.py args...]
# GPUS independent processes (CPU processes where there is no GPU); rank r
# predicts slides r, r + GPUS, ... on cuda:LOCAL_RANK (--device cuda). No
# process group: a slide that fails (unreadable, out of memory) stops no other
# rank; every rank finishes its share and the failures are listed at the end
# (exit 1). Each slide is written atomically and skipped when done, so a rerun
# finishes the rest. Interpreter: $PYTHON, else the project's .venv, else python.
source "$(dirname "$0")/_python.sh"
exec "$PYTHON" "$(dirname "$0")/_workers.py" "$3" infer_slide.py "$1" "$2" "${@:4}"
