"""Build-time tile check in a distributed run: rank 0 decodes and writes the
cache; the other ranks decode nothing and take rank 0's verdict."""
from unittest import mock

import cv2
import numpy as np
import pytest

from crossspec_mmseg.datasets import validation
from crossspec_mmseg.datasets.validation import TileCheckError, check_tiles

MODULE = 'crossspec_mmseg.datasets.validation'


@pytest.fixture
def tiles(tmp_path):
    image, mask = tmp_path / 'a.png', tmp_path / 'a_mask.png'
    cv2.imwrite(str(image), np.zeros((8, 8, 3), np.uint8))
    cv2.imwrite(str(mask), np.full((8, 8), 7, np.uint8))  # label 7 of 2 classes: bad
    return [('manifest.csv:2', str(image), str(mask))], str(tmp_path / 'manifest.csv')


def fake_broadcast(value):
    def broadcast(objects, src=0):
        assert src == 0
        if value is not None:
            objects[0] = value
    return broadcast


def test_other_ranks_decode_nothing_and_raise_rank0s_verdict(tiles):
    pairs, manifest = tiles
    with mock.patch(f'{MODULE}.get_dist_info', return_value=(1, 2)), \
            mock.patch(f'{MODULE}.broadcast_object_list', fake_broadcast('rank 0 says: bad')), \
            mock.patch.object(validation, '_check_pair', side_effect=AssertionError('decoded')):
        with pytest.raises(TileCheckError, match='rank 0 says: bad'):
            check_tiles(pairs, manifest, num_classes=2)
    with mock.patch(f'{MODULE}.get_dist_info', return_value=(1, 2)), \
            mock.patch(f'{MODULE}.broadcast_object_list', fake_broadcast(None)), \
            mock.patch.object(validation, '_check_pair', side_effect=AssertionError('decoded')):
        check_tiles(pairs, manifest, num_classes=2)  # rank 0 found nothing: no error


def test_rank0_checks_and_broadcasts_its_verdict(tiles, tmp_path):
    pairs, manifest = tiles
    sent = []
    with mock.patch(f'{MODULE}.get_dist_info', return_value=(0, 2)), \
            mock.patch(f'{MODULE}.broadcast_object_list',
                       side_effect=lambda objects, src=0: sent.append(list(objects))):
        with pytest.raises(TileCheckError, match='label 7 is beyond the 2 classes'):
            check_tiles(pairs, manifest, num_classes=2)
    assert len(sent) == 1 and 'label 7 is beyond the 2 classes' in sent[0][0]
    assert (tmp_path / '.tile_checks.json').exists()  # rank 0 wrote the cache
