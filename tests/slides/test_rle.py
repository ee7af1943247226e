"""Kaggle column-major RLE: round trips, windows, malformed encodings."""
import numpy as np
import pytest

from crossspec_mmseg.slides import (
    RLEError,
    parse_rle,
    rle_decode,
    rle_decode_window,
    rle_encode,
)


def test_column_major_one_indexed():
    mask = np.array([[1, 0], [1, 1]])
    assert rle_encode(mask) == '1 2 4 1'  # pixel 2 is (row 2, col 1)
    assert (rle_decode('1 2 4 1', (2, 2)) == mask).all()


@pytest.mark.parametrize('seed', range(5))
def test_round_trip_and_windows(seed):
    rng = np.random.default_rng(seed)
    h, w = rng.integers(5, 80, 2)
    mask = (rng.random((h, w)) < rng.uniform(0.05, 0.9)).astype(np.uint8)
    encoding = rle_encode(mask)
    assert (rle_decode(encoding, (h, w)) == mask).all()
    runs = parse_rle(encoding, (h, w))
    for _ in range(20):
        x, y = rng.integers(0, w), rng.integers(0, h)
        ww, hh = rng.integers(1, w - x + 1), rng.integers(1, h - y + 1)
        assert (rle_decode_window(runs, (h, w), x, y, ww, hh) == mask[y:y + hh, x:x + ww]).all()


@pytest.mark.parametrize('empty', ['', float('nan'), None])
def test_empty_mask(empty):
    assert not rle_decode(empty, (4, 3)).any()
    assert rle_encode(np.zeros((4, 3))) == ''


@pytest.mark.parametrize('encoding, message', [
    ('1 2 5', 'odd number of tokens'),
    ('1 2 x 3', 'non-integer'),
    ('0 2', 'starts must be >= 1'),
    ('3 0', 'lengths >= 1'),
    ('11 3', 'beyond H\\*W = 12'),
    ('5 2 1 2', 'overlap or are not sorted'),
])
def test_malformed_encodings_name_the_record(encoding, message):
    with pytest.raises(RLEError, match=f'train.csv id abc: .*{message}'):
        parse_rle(encoding, (3, 4), record='train.csv id abc')
