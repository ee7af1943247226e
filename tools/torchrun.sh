#!/usr/bin/env bash
# Usage: tools/torchrun.sh SCRIPT NPROC [script args...]
# Shared launcher of dist_train.sh and dist_test.sh: torchrun with NPROC
# processes on this node. Without GPUs they are CPU processes over gloo.
# Interpreter: $PYTHON, else the project's .venv, else python (tools/_python.sh).
SCRIPT=$1
NPROC=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
source "$(dirname "$0")/_python.sh"

PYTHONPATH="$(dirname "$0")/..":$PYTHONPATH \
OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} \
exec "$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$NPROC" \
    --master_port="$PORT" \
    "$(dirname "$0")/$SCRIPT" "${@:3}" --launcher pytorch
