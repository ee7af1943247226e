"""Runs N independent copies of a tool on one node (``tools/dist_infer.sh``).

    python tools/_workers.py N TOOL [tool args...]

Each copy gets ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE`` and
``LOCAL_WORLD_SIZE`` as torchrun sets them, so the tool takes its share of
the work (``tools/infer_slide.py``: slides r, r + N, ...; with
``--device cuda`` it uses ``cuda:LOCAL_RANK``). Unlike torchrun, which sends
SIGTERM to every worker as soon as one exits non-zero, a worker that fails
stops nobody: every worker finishes its share, and the failures are listed
at the end. The tool needs no process group.

The workers' stdout lines are passed on whole (one write per line, so the
JSON summaries of several workers never run together); lines that are JSON
records with an ``error`` key are the failures listed at the end. Exit
status 0 when every worker exited 0, else 1, after all have ended. Ctrl-C or
SIGTERM is passed on to every worker.
"""
import json
import os
import os.path as osp
import signal
import subprocess
import sys
import threading

TOOLS = osp.dirname(osp.abspath(__file__))


def worker_env(rank: int, world: int) -> dict:
    """The environment of worker ``rank`` of ``world`` on this node."""
    return dict(os.environ, RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world),
                LOCAL_WORLD_SIZE=str(world), GROUP_RANK='0',
                OMP_NUM_THREADS=os.environ.get('OMP_NUM_THREADS', '1'),
                PYTHONPATH=os.pathsep.join(filter(None, [osp.dirname(TOOLS),
                                                         os.environ.get('PYTHONPATH')])))


def relay(stream, lock: threading.Lock, failures: list) -> None:
    """Pass a worker's stdout on line by line; keep its ``error`` records."""
    for line in iter(stream.readline, ''):
        with lock:
            sys.stdout.write(line if line.endswith('\n') else line + '\n')
            sys.stdout.flush()
        if line.startswith('{'):
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and 'error' in record:
                failures.append(record)
    stream.close()


def run_workers(count: int, command: list) -> int:
    """Run ``command`` ``count`` times side by side; the exit status (see module)."""
    procs = [subprocess.Popen(command, env=worker_env(rank, count), stdout=subprocess.PIPE,
                              text=True, bufsize=1) for rank in range(count)]

    def forward(signum, _frame):
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signum)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    lock, failures = threading.Lock(), []
    relays = [threading.Thread(target=relay, args=(p.stdout, lock, failures), daemon=True)
              for p in procs]
    try:
        for thread in relays:
            thread.start()
        codes = [proc.wait() for proc in procs]
        for thread in relays:
            thread.join()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    bad = [(rank, code) for rank, code in enumerate(codes) if code != 0]
    if not bad:
        return 0
    lines = [f'  {r.get("slide", "?")}: {r["error"]}' for r in failures]
    ranks = ', '.join(f'{rank} (exit {code})' for rank, code in bad)
    sys.stderr.write(f'error: worker {ranks} of {count} failed; the other workers finished '
                     'their share'
                     + (f'. Failed ({len(failures)}):\n' + '\n'.join(lines) if lines else '')
                     + '\nfix those and rerun the same command: finished outputs are skipped\n')
    sys.stderr.flush()
    return 1


def main(argv: list) -> int:
    if len(argv) < 2 or not argv[0].isdigit() or int(argv[0]) < 1:
        sys.exit('usage: _workers.py N TOOL [tool args...]  (N >= 1)')
    tool = argv[1] if osp.isabs(argv[1]) else osp.join(TOOLS, argv[1])
    return run_workers(int(argv[0]), [sys.executable, tool, *argv[2:]])


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
