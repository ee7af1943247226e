#!/usr/bin/env bash
# Usage: tools/torchrun.sh SCRIPT NPROC [script args...]
# Shared launcher of dist_train.sh and dist_test.sh: torchrun with NPROC
# processes on this node. Without GPUs they are CPU processes over gloo.
# Port: on one node (NNODES=1, the default) a free port is picked for each
# launch, so several jobs on one node never collide; PORT (or MASTER_PORT)
# sets it, and must be set, the same on every node, for NNODES > 1.
# Interpreter: $PYTHON, else the project's .venv, else python (tools/_python.sh).
SCRIPT=$1
NPROC=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
source "$(dirname "$0")/_python.sh"
PORT=${PORT:-${MASTER_PORT:-}}
if [ -z "$PORT" ]; then
  if [ "$NNODES" -gt 1 ]; then
    echo "error: NNODES=$NNODES: set PORT (the same free port on every node)" >&2
    exit 2
  fi
  PORT=$("$PYTHON" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')
fi

PYTHONPATH="$(dirname "$0")/..":$PYTHONPATH \
OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} \
exec "$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$NPROC" \
    --master_port="$PORT" \
    "$(dirname "$0")/$SCRIPT" "${@:3}" --launcher pytorch
