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


def test_weights_from_manifest_count_the_filtered_rows(tmp_path):
    """Only the filtered rows count: fold0 has 1 human and 3 mouse tiles (human
    weighs 3), the whole manifest 9 human and 3 mouse (mouse would weigh 3)."""
    from crossspec_mmseg.datasets import weights_from_manifest
    from crossspec_mmseg.structures import MANIFEST_COLUMNS, write_manifest
    tiles = [('human', 'fold0')] + [('mouse', 'fold0')] * 3 + [('human', 'fold3')] * 8
    rows = [{**dict.fromkeys(MANIFEST_COLUMNS, '0'), 'image': f'{k}.png', 'species': species,
             'fold': fold} for k, (species, fold) in enumerate(tiles)]
    manifest = str(tmp_path / 'manifest.csv')
    write_manifest(manifest, rows)
    assert weights_from_manifest(manifest, filters=dict(fold='fold0')) == dict(human=3.0,
                                                                                mouse=1.0)
    assert weights_from_manifest(manifest) == dict(human=1.0, mouse=3.0)
    with pytest.warns(DeprecationWarning, match=r'weights_from_manifest\(column=...\)'):
        assert weights_from_manifest(manifest, column='fold') == {'fold0': 2.0, 'fold3': 1.0}
