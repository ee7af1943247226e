"""How the tools that run other tools start them (cross_validate.py, run_study.py)."""
import os
import os.path as osp
import subprocess
import sys

TOOLS = osp.dirname(osp.abspath(__file__))


def run_tool(tool: str, gpus: int, args: list) -> None:
    """``tools/<tool> args...``: in a new interpreter, or on ``gpus`` torchrun
    processes (tools/torchrun.sh; CPU processes over gloo without GPUs), with
    this interpreter (``PYTHON``); raises on a non-zero exit."""
    env = dict(os.environ, PYTHON=sys.executable)
    command = ([sys.executable, osp.join(TOOLS, tool)] if gpus <= 1 else
               [osp.join(TOOLS, 'torchrun.sh'), tool, str(gpus)])
    subprocess.run([*command, *args], check=True, env=env)
