"""Guarantee 4: untrusted files are read, never executed. Checkpoints load with
torch's weights_only unpickler plus mmengine's few classes (a pickle payload is
refused before it runs); orbit.db is opened read-only and its Java blobs are
parsed, not deserialised by a JVM; manifest paths cannot escape the dataset root
(tested with the corrupt-input corpus, as is a blob of a foreign Java class)."""
import os
import os.path as osp
import pickle
import sqlite3
import subprocess
import sys

import pytest
import torch

from crossspec_mmseg.converters import convert_orbit
from crossspec_mmseg.demo.raw_downloads import write_orbit_raw
from crossspec_mmseg.engine import CHECKPOINT_SAFE_GLOBALS
from helpers import ORBIT_BLOBS_DIR, REPO, TINY_CONFIG


class Payload:
    """Pickles into a call of os.system: runs a command when unpickled unsafely."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}',)


@pytest.mark.heavy
def test_a_checkpoint_with_a_pickle_payload_is_refused(tmp_path, demo_data):
    marker = tmp_path / 'payload_ran'
    checkpoint = str(tmp_path / 'evil.pth')
    torch.save(dict(state_dict={}, meta=dict(note=Payload(str(marker)))), checkpoint)
    proc = subprocess.run([sys.executable, 'tools/test.py', TINY_CONFIG, checkpoint,
                           '--work-dir', str(tmp_path / 'work')], cwd=REPO,
                          env=dict(os.environ, CROSSSPEC_DATA=demo_data),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0 and 'Weights only load failed' in proc.stderr
    assert not marker.exists()


def test_only_mmengines_own_classes_are_allow_listed():
    allowed = torch.serialization.get_safe_globals()
    extra = [g for g in allowed if g not in CHECKPOINT_SAFE_GLOBALS]
    assert all(getattr(g, '__module__', '').startswith('torch.') for g in extra)  # torch's own
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
