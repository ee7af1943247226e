"""Guarantee 4: untrusted files are read, never executed. Checkpoints load with
torch's weights_only unpickler plus mmengine's few classes (a pickle payload is
refused before it runs); orbit.db is opened read-only and its Java blobs are
parsed, not deserialised by a JVM; manifest paths cannot escape the dataset root
(tested with the corrupt-input corpus, as is a blob of a foreign Java class)."""
import os
import os.path as osp
import pickle
import random
import sqlite3
import subprocess
import sys

import pytest
import torch

from crossspec_mmseg.converters import convert_orbit
from crossspec_mmseg.demo.raw_downloads import write_orbit_raw
from crossspec_mmseg.engine import CHECKPOINT_SAFE_GLOBALS
from helpers import ORBIT_BLOBS_DIR, TINY_CONFIG, run_tool


class Payload:
    """Pickles into a call of os.system: runs a command when unpickled unsafely."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}',)


def bad_checkpoint(tmp_path, kind):
    """A checkpoint with a pickle payload (and the marker it would touch), or
    a file that is not a checkpoint at all."""
    marker = tmp_path / 'payload_ran'
    path = tmp_path / f'{kind}.pth'
    if kind == 'payload':
        torch.save(dict(state_dict={}, meta=dict(note=Payload(str(marker)))), str(path))
    else:
        path.write_bytes(random.Random(0).randbytes(4096))
    return str(path), marker


@pytest.mark.filterwarnings('ignore:Detected pickle protocol:UserWarning')  # torch, on noise
def test_any_bytes_that_are_not_a_checkpoint_are_refused_in_one_error(tmp_path):
    """Random bytes, also behind each checkpoint magic (zip, legacy pickle), and a
    truncated real checkpoint: always UnreadableCheckpointError naming the file
    (the weights-only unpickler raises many kinds of errors on such bytes)."""
    from crossspec_mmseg.engine import UnreadableCheckpointError, load_local_checkpoint
    rng = random.Random(1)
    real = tmp_path / 'real.pth'
    torch.save(dict(state_dict=dict(w=torch.zeros(64))), str(real))
    contents = [real.read_bytes()[:300], b'']
    for prefix in (b'', b'PK\x03\x04', b'\x80', b'\x80\x02'):
        contents += [prefix + rng.randbytes(rng.randrange(1, 2000)) for _ in range(60)]
    for k, data in enumerate(contents):
        path = tmp_path / f'{k}.pth'
        path.write_bytes(data)
        with pytest.raises(UnreadableCheckpointError, match=f'^{path}: '):
            load_local_checkpoint(str(path))
    assert load_local_checkpoint(str(real))['state_dict']['w'].shape == (64,)


def assert_one_line_refusal(proc, checkpoint, marker, kind):
    assert proc.returncode == 1 and not marker.exists()
    assert 'Traceback' not in proc.stderr and 'weights_only' not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(f'error: {checkpoint}: ')
    assert ('posix.system' in last) if kind == 'payload' else ('not a PyTorch checkpoint' in last)


@pytest.mark.heavy
@pytest.mark.parametrize('kind', ['payload', 'random'])
def test_a_bad_checkpoint_is_refused_in_one_line_by_every_tool(tmp_path, demo_data, kind):
    """tools/test.py, infer_slide.py and train.py's load_from: the file is named
    with what is wrong, the code in it never runs, and torch's advice to load
    it with weights_only=False (the one thing not to do) is not shown."""
    import numpy as np

    from crossspec_mmseg.demo import write_pyramid
    checkpoint, marker = bad_checkpoint(tmp_path, kind)
    proc = run_tool(['tools/test.py', TINY_CONFIG, checkpoint, '--work-dir',
                     str(tmp_path / 'work')], demo_data, check=False, fresh=False)
    assert_one_line_refusal(proc, checkpoint, marker, kind)
    slide = str(tmp_path / 'slide.svs')
    write_pyramid(slide, np.zeros((64, 64, 3), np.uint8), 'svs', 0.5, downsamples=(1,), tile=64)
    proc = run_tool(['tools/infer_slide.py', TINY_CONFIG, checkpoint, slide, '--out',
                     str(tmp_path / 'mask.tif')], demo_data, check=False, fresh=False)
    assert_one_line_refusal(proc, checkpoint, marker, kind)
    assert not (tmp_path / 'mask.tif').exists()
    proc = run_tool(['tools/train.py', TINY_CONFIG, '--work-dir', str(tmp_path / 'train'),
                     '--cfg-options', f'load_from={checkpoint}'], demo_data, check=False,
                    fresh=False)
    assert_one_line_refusal(proc, checkpoint, marker, kind)


def name(obj):
    return f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', obj)}"


def test_only_mmengines_own_classes_are_allow_listed():
    """What importing the package adds to torch's allow-list is mmengine's
    classes (and numpy's); torch's own entries are torch classes (DTensor's,
    registered when its modules load) and what a bare ``import torch`` lists
    (2.14: the builtin exceptions and traceback frames), read in a fresh
    interpreter."""
    torch_own = subprocess.run(
        [sys.executable, '-c', 'import torch\nfor g in torch.serialization.get_safe_globals(): '
         "print(f\"{getattr(g, '__module__', '')}.{getattr(g, '__qualname__', g)}\")"],
        capture_output=True, text=True, check=True).stdout.split()
    allowed = torch.serialization.get_safe_globals()
    extra = [g for g in allowed if g not in CHECKPOINT_SAFE_GLOBALS
             and not name(g).startswith('torch.') and name(g) not in torch_own]
    assert extra == []
    assert os.system not in allowed and pickle.loads not in allowed and eval not in allowed
    assert 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD' not in os.environ


def test_orbit_db_is_opened_read_only(tmp_path, monkeypatch):
    raw = str(tmp_path / 'raw')
    groups = write_orbit_raw(raw, ORBIT_BLOBS_DIR)
    db = osp.join(raw, 'orbit.db')
    con = sqlite3.connect(db)  # a trigger that would fire on any write
    con.execute('CREATE TABLE AUDIT (N INTEGER)')
    con.execute('CREATE TRIGGER T AFTER UPDATE ON RAW_ANNOTATION BEGIN '
                'INSERT INTO AUDIT VALUES (1); END')
    con.commit()
    con.close()
    before, stat = open(db, 'rb').read(), os.stat(db)
    opened, real_connect = [], sqlite3.connect

    def connect(target, *args, **kwargs):
        opened.append((str(target), kwargs.get('uri')))
        return real_connect(target, *args, **kwargs)
    monkeypatch.setattr(sqlite3, 'connect', connect)
    convert_orbit(raw, str(tmp_path / 'out'), slide_table=groups, tile=32, min_tissue=0)
    assert opened and all(uri and target.endswith('?mode=ro') for target, uri in opened)
    assert open(db, 'rb').read() == before and os.stat(db).st_mtime_ns == stat.st_mtime_ns
    assert not [f for f in os.listdir(raw) if f.startswith('orbit.db-')]  # no journal/WAL
