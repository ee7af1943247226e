"""tools/_workers.py (behind tools/dist_infer.sh): N independent workers, a
failing one stops nobody, every failure listed at the end."""
import importlib.util
import json
import os.path as osp
import sys
import textwrap

from helpers import REPO


def workers_module():
    spec = importlib.util.spec_from_file_location('_workers', osp.join(REPO, 'tools',
                                                                       '_workers.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_failing_worker_stops_nobody_and_is_listed(tmp_path, capsys):
    """Rank 0 fails at once; rank 1 still works for a while and finishes."""
    script = textwrap.dedent(f'''
        import json, os, sys, time
        rank = int(os.environ['RANK'])
        assert os.environ['WORLD_SIZE'] == '2' and os.environ['LOCAL_RANK'] == str(rank)
        if rank == 0:
            print(json.dumps(dict(slide='bad.svs', error='bad.svs: not a TIFF')), flush=True)
            sys.exit(1)
        time.sleep(1.5)
        open({str(tmp_path / 'rank1.done')!r}, 'w').write('done')
        print(json.dumps(dict(slide='good.svs')), flush=True)
    ''')
    code = workers_module().run_workers(2, [sys.executable, '-c', script])
    out, err = capsys.readouterr()
    assert code == 1
    assert (tmp_path / 'rank1.done').read_text() == 'done'  # not killed by rank 0's exit
    records = [json.loads(line) for line in out.splitlines()]
    assert {r['slide'] for r in records} == {'bad.svs', 'good.svs'}
    assert 'worker 0 (exit 1) of 2 failed' in err and 'bad.svs: not a TIFF' in err


def test_all_good_exits_zero_and_lines_stay_whole(capsys):
    script = ('import json, os\n'
              'for k in range(200):\n'
              '    print(json.dumps(dict(rank=os.environ["RANK"], k=k, pad="x" * 500)))\n')
    assert workers_module().run_workers(3, [sys.executable, '-c', script]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 600 and all(json.loads(line)['pad'] for line in lines)
