"""tools/infer_slide.py on several slides (folder, glob, file): one summary per
slide, outputs beside each mask, finished slides skipped on a rerun, a bad
slide named without stopping the others."""
import json
import shutil

import numpy as np
import pytest

from crossspec_mmseg.demo import write_pyramid


@pytest.mark.heavy
def test_folder_glob_and_file_resume_and_skip_bad(tmp_path, demo_data):
    from helpers import TINY_CONFIG, run_tool, write_tiny_checkpoint
    checkpoint = write_tiny_checkpoint(tmp_path / 'model.pth')
    image = np.random.default_rng(0).integers(0, 255, (96, 128, 3), np.uint8)
    folder, other = tmp_path / 'scans', tmp_path / 'more'
    folder.mkdir()
    other.mkdir()
    for name in ('a.svs', 'b.tif'):
        write_pyramid(str(folder / name), image, 'svs', 0.5, downsamples=(1,), tile=64,
                      compression='zlib')
    shutil.copy(folder / 'a.svs', other / 'c.svs')
    (folder / 'notes.txt').write_text('not a slide')
    out, scratch = tmp_path / 'pred', tmp_path / 'scratch'

    def summaries(proc):
        return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith('{')]

    def infer(*slides, check=True):
        return run_tool(['tools/infer_slide.py', TINY_CONFIG, checkpoint, *map(str, slides),
                         '--out', str(out), '--tile', '64', '--geojson', '--objects-csv',
                         '--scratch-dir', str(scratch)], demo_data, check=check, fresh=False)

    first = summaries(infer(folder, other / '*.svs'))
    assert [s['slide'].rsplit('/', 1)[-1] for s in first] == ['a.svs', 'b.tif', 'c.svs']
    for name in 'abc':
        for suffix in ('.tif', '.geojson', '_objects.csv'):
            assert (out / f'{name}{suffix}').is_file()
    assert list(scratch.iterdir()) == []  # masks were made there, then removed
    listed = tmp_path / 'slides.txt'  # a list file: comments, blank lines, relative paths
    listed.write_text('# first batch\nscans\n\nmore/c.svs\n')
    again = summaries(infer('--slides-from', listed))
    assert len(again) == 3 and all(s.get('done') for s in again)  # finished: skipped
    (folder / 'broken.tiff').write_bytes(b'II*\x00 not really a tiff')
    (out / 'b.geojson').unlink()  # as if killed before its last output
    proc = infer(folder, check=False)
    assert proc.returncode == 1 and 'Traceback' not in proc.stderr
    assert 'broken.tiff' in proc.stderr and '1 of 3 slides failed' in proc.stderr
    assert (out / 'b.geojson').is_file()


@pytest.mark.heavy
def test_dist_infer_splits_slides_and_a_bad_slide_stops_no_rank(tmp_path, demo_data):
    """tools/dist_infer.sh with 2 CPU processes over 4 slides: rank r takes slides
    r, r + 2; every good slide predicted once, the same bytes as one process.
    Rank 0's unreadable slide fails fast while rank 1 still has two slides to
    do: rank 1 finishes them, the failure is listed at the end, exit 1."""
    import os

    from helpers import TINY_CONFIG, run_tool, write_tiny_checkpoint
    checkpoint = write_tiny_checkpoint(tmp_path / 'model.pth')
    rng = np.random.default_rng(1)
    folder = tmp_path / 'scans'
    folder.mkdir()
    for name in ('a', 'b', 'c'):
        write_pyramid(str(folder / f'{name}.svs'), rng.integers(0, 255, (80, 100, 3), np.uint8),
                      'svs', 0.5, downsamples=(1,), tile=64, compression='zlib')
    (folder / 'b0_broken.svs').write_bytes(b'II*\x00 not really a tiff')  # rank 0's 2nd
    flags = ['--tile', '64', '--geojson', '--objects-csv']

    def outputs(out):
        return {p.name: p.read_bytes() for p in sorted(out.iterdir())}

    single = tmp_path / 'single'
    run_tool(['tools/infer_slide.py', TINY_CONFIG, checkpoint, str(folder), '--out',
              str(single), *flags], demo_data, fresh=False, check=False)
    ranked = tmp_path / 'ranked'
    proc = run_tool(['tools/dist_infer.sh', TINY_CONFIG, checkpoint, '2', str(folder),
                     '--out', str(ranked), *flags], demo_data, check=False,
                    env=dict(PYTHONUNBUFFERED='1'))  # as in containers: every write a syscall
    summaries = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith('{')]
    done = sorted(os.path.basename(s['slide']) for s in summaries if 'error' not in s)
    failed = [os.path.basename(s['slide']) for s in summaries if 'error' in s]
    assert done == ['a.svs', 'b.svs', 'c.svs'] and failed == ['b0_broken.svs']
    assert not any(s.get('done') for s in summaries)
    assert outputs(ranked) == outputs(single)  # 9 outputs, 3 records of whose they are
    assert len([name for name in outputs(ranked) if not name.startswith('.')]) == 9
    assert proc.returncode == 1 and 'Traceback' not in proc.stderr
    assert 'worker 0 (exit 1) of 2 failed' in proc.stderr
    assert 'b0_broken.svs' in proc.stderr.rsplit('Failed (1):', 1)[1]


@pytest.mark.parametrize('names, flags, path', [
    (('a.ndpi', 'a.svs'), [], 'a.tif'),
    # Was: slide.ome.tif's mask written over slide.svs's OME-TIFF, exit 0, both "done".
    (('slide.ome.tif', 'slide.svs'), ['--ome-tiff'], 'slide.tif')])
def test_slides_sharing_a_name_are_refused_before_any_work(tmp_path, demo_data, names, flags,
                                                           path):
    """Two slides whose outputs would share a path: both named with the path,
    nothing written, the model never loaded."""
    from helpers import TINY_CONFIG, run_tool
    folder = tmp_path / 'scans'
    folder.mkdir()
    image = np.zeros((64, 64, 3), np.uint8)
    for name in names:
        write_pyramid(str(folder / name), image, 'svs', 0.5, downsamples=(1,), tile=64)
    checkpoint = tmp_path / 'never_loaded.pth'
    checkpoint.write_bytes(b'')
    out = tmp_path / 'pred'
    proc = run_tool(['tools/infer_slide.py', TINY_CONFIG, str(checkpoint), str(folder),
                     '--out', str(out), *flags], demo_data, check=False, fresh=False)
    message = proc.stderr.strip().splitlines()[-1]
    assert proc.returncode == 1 and message.startswith('error: output paths collide')
    assert all(name in message for name in names) and str(out / path) in message
    assert not out.exists()


def test_summary_line_is_one_write(monkeypatch):
    """Ranks share one stdout pipe: a summary and its newline leave in a single
    write, or two ranks' lines run together (``print`` writes them apart)."""
    import importlib.util
    import io
    import sys

    from helpers import REPO
    spec = importlib.util.spec_from_file_location('infer_slide', f'{REPO}/tools/infer_slide.py')
    infer_slide = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(infer_slide)

    class Recorder(io.StringIO):
        def __init__(self):
            super().__init__()
            self.writes = []

        def write(self, text):
            self.writes.append(text)
            return super().write(text)

    recorder = Recorder()
    monkeypatch.setattr(sys, 'stdout', recorder)
    infer_slide.print_record(dict(slide='a.svs', objects=3))
    assert len(recorder.writes) == 1
    assert json.loads(recorder.writes[0]) == dict(slide='a.svs', objects=3)
    assert recorder.writes[0].endswith('\n')


@pytest.mark.parametrize('device, current', [('cuda', None), ('cuda:1', 1), ('cpu', None)])
def test_each_rank_uses_only_its_gpu(monkeypatch, device, current):
    """``cuda:LOCAL_RANK`` becomes the process's current device (checked as
    torch checks it: plain ``cuda`` has no index to set); cuDNN autotunes on GPUs."""
    import importlib.util

    import torch

    from helpers import REPO
    spec = importlib.util.spec_from_file_location('infer_slide', f'{REPO}/tools/infer_slide.py')
    infer_slide = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(infer_slide)
    calls = []
    monkeypatch.setattr(torch.cuda, 'set_device', lambda d: calls.append(
        torch.cuda._utils._get_device_index(d)))  # raises where torch's set_device raises
    monkeypatch.setattr(torch.backends.cudnn, 'benchmark', False)
    infer_slide.use_device(device)
    assert calls == ([] if current is None else [current])
    assert torch.backends.cudnn.benchmark is device.startswith('cuda')
