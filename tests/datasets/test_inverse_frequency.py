"""Inverse-frequency weights on NuInsSeg's published counts, with and without a cap."""
import pytest

from crossspec_mmseg.datasets import inverse_frequency_weights

COUNTS = dict(kidney=dict(human=11, mouse=40), liver=dict(human=40, mouse=36),
              spleen=dict(human=34, mouse=7))


def test_plain_inverse_frequency():
    w = {organ: inverse_frequency_weights(c) for organ, c in COUNTS.items()}
    assert round(w['kidney']['human'], 1) == 3.6 and w['kidney']['mouse'] == 1.0
    assert round(w['liver']['mouse'], 1) == 1.1 and w['liver']['human'] == 1.0
    assert round(w['spleen']['mouse'], 1) == 4.9 and w['spleen']['human'] == 1.0


def test_cap_reproduces_published_kidney_weight():
    capped = inverse_frequency_weights(COUNTS['kidney'], max_weight=2.5)
    assert capped == dict(human=2.5, mouse=1.0)
    # The cap only bites above it: liver's 1.1 is unchanged.
    capped = inverse_frequency_weights(COUNTS['liver'], max_weight=2.5)
    assert capped['mouse'] == pytest.approx(40 / 36)


@pytest.mark.parametrize('counts, cap, message', [
    ({}, None, 'counts must be positive'), (dict(a=0, b=3), None, 'counts must be positive'),
    (dict(a=1, b=3), 0.5, 'max_weight must be >= 1')])
def test_bad_input(counts, cap, message):
    with pytest.raises(ValueError, match=message):
        inverse_frequency_weights(counts, cap)


def test_weights_from_manifest_count_the_filtered_rows(demo_data):
    import os.path as osp

    from crossspec_mmseg.datasets import weights_from_manifest
    weights = weights_from_manifest(osp.join(demo_data, 'manifest.csv'),
                                    filters=dict(split=['fold0', 'fold1', 'fold2']))
    assert min(weights.values()) == 1.0 and set(weights) == {'human', 'mouse'}
