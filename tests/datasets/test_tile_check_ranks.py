"""Build-time tile check in a distributed run (two real gloo processes): each
rank decodes only its share, every rank raises the same error naming every bad
tile (also when one rank fails outright), and rank 0 caches all good tiles.
A manifest folder that cannot be written keeps its cache in the fallback."""
import json
import os
import os.path as osp
import socket
from datetime import timedelta
from types import SimpleNamespace
from unittest import mock

import cv2
import numpy as np
import pytest
import torch.distributed as dist
import torch.multiprocessing as mp

from crossspec_mmseg.datasets import validation
from crossspec_mmseg.datasets.validation import TileCheckError, check_tiles

N_TILES = 10
LABEL_BEYOND, ZERO_BYTE_MASK, TRUNCATED_IMAGE = 3, 4, 7  # pairs indices; 3 and 7: rank 1's


def write_tiles(folder):
    """``N_TILES`` (where, image, mask) pairs in ``folder`` with three bad tiles, and
    the manifest path (manifest line = index + 2)."""
    os.makedirs(folder, exist_ok=True)
    pairs = []
    for i in range(N_TILES):
        image, mask = osp.join(folder, f'{i}.png'), osp.join(folder, f'{i}_mask.png')
        cv2.imwrite(image, np.full((8, 8, 3), i, np.uint8))
        cv2.imwrite(mask, np.full((8, 8), 7 if i == LABEL_BEYOND else i % 2, np.uint8))
        pairs.append((f'manifest.csv:{i + 2}', image, mask))
    open(pairs[ZERO_BYTE_MASK][2], 'wb').close()
    with open(pairs[TRUNCATED_IMAGE][1], 'r+b') as f:
        f.truncate(20)
    return pairs, osp.join(folder, 'manifest.csv')


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def run_rank(rank, world_size, port, pairs, manifest, cache_dir, out):
    """One rank: the check three times (fresh, cached, with rank 1 failing on a
    decode); what it decoded and raised each time goes to ``out/rank<r>.json``."""
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank,
                            world_size=world_size, timeout=timedelta(seconds=30))
    real = validation._check_pair
    results = {}
    try:
        for scenario in ('fresh', 'cached', 'rank 1 fails'):
            decoded = []

            def spy(image_path, mask_path, sizes):
                decoded.append(image_path)
                if scenario == 'rank 1 fails' and rank == 1:
                    raise OSError('disk gone')
                return real(image_path, mask_path, sizes)

            validation._check_pair = spy
            try:
                check_tiles(pairs, manifest, num_classes=2, cache_dir=cache_dir)
                error = None
            except TileCheckError as err:
                error = str(err)
            results[scenario] = dict(decoded=sorted(decoded), error=error)
        with open(osp.join(out, f'rank{rank}.json'), 'w') as f:
            json.dump(results, f)
    finally:
        dist.destroy_process_group()


@pytest.mark.heavy
def test_ranks_split_the_check_and_share_one_verdict(tmp_path):
    pairs, manifest = write_tiles(str(tmp_path / 'data'))
    fallback = str(tmp_path / 'fallback')
    mp.spawn(run_rank, args=(2, free_port(), pairs, manifest, fallback, str(tmp_path)),
             nprocs=2, join=True)
    ranks = []
    for rank in range(2):
        with open(tmp_path / f'rank{rank}.json') as f:
            ranks.append(json.load(f))
    images = [image for _, image, _ in pairs]

    # Fresh: each rank decodes its share (every other tile) only; same error on both.
    for rank, results in enumerate(ranks):
        assert results['fresh']['decoded'] == sorted(images[rank::2])
    error = ranks[0]['fresh']['error']
    assert error is not None and ranks[1]['fresh']['error'] == error
    assert '3 unusable tiles' in error
    lines = [error.index(f'manifest.csv:{i + 2}: ')
             for i in (LABEL_BEYOND, ZERO_BYTE_MASK, TRUNCATED_IMAGE)]
    assert lines == sorted(lines)  # in manifest order, whichever rank found them
    assert 'label 7 is beyond the 2 classes' in error
    assert 'zero-byte file' in error and 'truncated or not an image' in error

    # Rank 0 wrote the merged cache beside the (writable) manifest: every good tile.
    with open(tmp_path / 'data' / '.tile_checks.json') as f:
        cache = json.load(f)
    good = [i for i in range(N_TILES) if i not in (ZERO_BYTE_MASK, TRUNCATED_IMAGE)]
    assert sorted(k for k in cache if k.endswith('_mask.png')) == sorted(
        pairs[i][2] for i in good)
    assert sorted(k for k in cache if not k.endswith('_mask.png')) == sorted(
        pairs[i][1] for i in good)
    assert not osp.exists(fallback)

    # Cached: only the tiles that failed are decoded again, each by its own rank.
    assert ranks[0]['cached'] == dict(decoded=[images[ZERO_BYTE_MASK]], error=error)
    assert ranks[1]['cached'] == dict(decoded=[images[TRUNCATED_IMAGE]], error=error)

    # Rank 1 fails outright: it still answers, and both ranks raise the same error.
    failed = ranks[0]['rank 1 fails']['error']
    assert failed == ranks[1]['rank 1 fails']['error']
    assert (f'rank 1 failed to check the tiles of {manifest}: OSError: disk gone'
            in failed)
    assert 'zero-byte file' in failed  # rank 0's findings are kept


@pytest.fixture
def read_only_tiles(tmp_path, request):
    """Good tiles in a folder where the cache cannot be written beside the
    manifest: a 0o555 folder, or (works as root too) a folder in the cache's way."""
    folder = str(tmp_path / 'data')
    pairs, manifest = write_tiles(folder)
    pairs = [p for i, p in enumerate(pairs) if i in (0, 1, 2, 5)]
    if request.param == 'chmod 0o555':
        os.chmod(folder, 0o555)
        request.addfinalizer(lambda: os.chmod(folder, 0o755))
        if os.access(folder, os.W_OK):
            pytest.skip('chmod does not stop this user (root) writing')
    else:
        os.mkdir(osp.join(folder, '.tile_checks.json'))
    return pairs, manifest


@pytest.mark.parametrize('read_only_tiles', ['chmod 0o555', 'path taken'], indirect=True)
def test_read_only_manifest_folder_caches_in_the_fallback(read_only_tiles, tmp_path,
                                                          monkeypatch):
    pairs, manifest = read_only_tiles
    decoded = []
    real = validation._check_pair
    monkeypatch.setattr(validation, '_check_pair', lambda *a: decoded.append(a) or real(*a))
    fallback = tmp_path / 'work' / '.tile_checks'
    check_tiles(pairs, manifest, num_classes=2, cache_dir=str(fallback))
    assert len(decoded) == len(pairs)
    assert not osp.isfile(osp.join(osp.dirname(manifest), '.tile_checks.json'))
    written = os.listdir(fallback)
    assert len(written) == 1 and written[0].endswith('.json')
    check_tiles(pairs, manifest, num_classes=2, cache_dir=str(fallback))
    assert len(decoded) == len(pairs)  # nothing decoded again


def test_default_fallback_is_the_runners_work_dir_else_the_user_cache(tmp_path,
                                                                      monkeypatch):
    manifest = str(tmp_path / 'data' / 'manifest.csv')
    work_dir = tmp_path / 'work_dirs' / 'demo'
    runner_log = SimpleNamespace(log_file=str(work_dir / '20250101_120000' /
                                              '20250101_120000.log'))
    with mock.patch.object(validation.MMLogger, 'get_current_instance',
                           return_value=runner_log):
        beside, fallback = validation._cache_paths(manifest, None)
    assert beside == str(tmp_path / 'data' / '.tile_checks.json')
    assert osp.dirname(fallback) == str(work_dir / '.tile_checks')
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'xdg'))
    with mock.patch.object(validation.MMLogger, 'get_current_instance',
                           return_value=SimpleNamespace(log_file=None)):
        _, user = validation._cache_paths(manifest, None)
    assert osp.dirname(user) == str(tmp_path / 'xdg' / 'crossspec_mmseg' / 'tile_checks')
    assert osp.basename(user) == osp.basename(fallback)  # named by the manifest's path
    _, other = validation._cache_paths(str(tmp_path / 'other' / 'manifest.csv'), None)
    assert osp.basename(other) != osp.basename(user)
