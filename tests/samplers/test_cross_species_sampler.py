"""CrossSpeciesMixedSampler: quotas, frequencies, ranks, determinism, errors."""
from unittest import mock

import numpy as np
import pytest
from mmengine.dataset import ConcatDataset
from mmengine.registry import init_default_scope
from mmseg.registry import DATA_SAMPLERS, DATASETS

import crossspec_mmseg  # noqa: F401
from crossspec_mmseg.samplers import CrossSpeciesMixedSampler, batch_quotas, group_shares

MODULE = 'crossspec_mmseg.samplers.cross_species_sampler'


class Labels:
    """The smallest dataset a sampler needs: data infos with a species."""

    def __init__(self, **counts):
        self.labels = [g for g, n in counts.items() for _ in range(n)]

    def __len__(self):
        return len(self.labels)

    def get_data_info(self, i):
        return dict(species=self.labels[i], organ='kidney' if i % 5 else 'liver')


def batch_counts(sampler, dataset, epoch=0):
    idx = sampler.epoch_indices(epoch).reshape(-1, sampler.batch_size)
    groups = sampler.groups
    return np.array([[sum(dataset.labels[i] == g for i in b) for g in groups] for b in idx])


@pytest.mark.parametrize('batch_size, ratios, expected', [
    (4, dict(human=1, mouse=1), [2, 2, 0]),  # rat: no ratio, not sampled
    (8, dict(human=1, mouse=3), [2, 6, 0]),
    (6, dict(human=2, mouse=1, rat=3), [2, 1, 3]),
    (5, dict(human=0, mouse=1, rat=4), [0, 1, 4]),
])
def test_exact_quotas_every_batch(batch_size, ratios, expected):
    data = Labels(human=7, mouse=34, rat=20)
    sampler = CrossSpeciesMixedSampler(data, batch_size=batch_size, ratios=ratios, seed=3)
    counts = batch_counts(sampler, data)
    assert (counts == np.array(expected)).all()


@pytest.mark.parametrize('batch_size', [3, 5, 8])
@pytest.mark.parametrize('temperature', [1.0, 2.0, 10.0])
def test_temperature_quotas_floor_or_ceil_and_long_run_share(batch_size, temperature):
    data = Labels(human=11, mouse=40, rat=90)
    sampler = CrossSpeciesMixedSampler(data, batch_size=batch_size, temperature=temperature,
                                       seed=0)
    n = np.array([11, 40, 90])
    share = n ** (1 / temperature) / (n ** (1 / temperature)).sum()
    assert np.allclose(sampler.shares, share)
    counts = np.concatenate([batch_counts(sampler, data, e) for e in range(20)])
    target = batch_size * share
    assert (counts.sum(1) == batch_size).all()
    assert (counts >= np.floor(target)).all() and (counts <= np.ceil(target)).all()
    assert np.abs(counts.mean(0) - target).max() < 0.02 * batch_size


def test_leftover_slots_carry_over_epochs():
    """7 / 50 / 13 samples, T=2, batch 8 (9 batches an epoch): re-rounding each
    epoch gave 14 / 38 / 20 every epoch against the ideal 14.30 / 38.22 / 19.49."""
    data = Labels(human=7, mouse=50, rat=13)
    sampler = CrossSpeciesMixedSampler(data, batch_size=8, temperature=2, seed=0)
    epochs = np.array([batch_counts(sampler, data, e).sum(0) for e in range(200)])
    ideal = 72 * sampler.shares
    assert np.allclose(ideal, [14.30, 38.22, 19.49], atol=0.01)
    assert len({tuple(e) for e in epochs}) > 1  # not the same rounding every epoch
    drift = np.abs(epochs.cumsum(0) - np.outer(np.arange(1, 201), ideal)).max()
    assert drift < 3  # slots, after 14,400 samples
    # Resuming at epoch 100 replays epoch 100 exactly.
    again = CrossSpeciesMixedSampler(data, batch_size=8, temperature=2, seed=0)
    assert (again.epoch_indices(100) == sampler.epoch_indices(100)).all()


@pytest.mark.parametrize('shares', [[0.1, 0.9], [0.2, 0.3, 0.5], [1 / 3, 1 / 3, 1 / 3],
                                    [0.05, 0.15, 0.8]])
@pytest.mark.parametrize('batch_size', [1, 3, 4, 7])
def test_batch_quotas_floor_or_ceil_and_bounded_drift(shares, batch_size):
    counts = batch_quotas(shares, batch_size, 0, 20000, phase=0.37)
    target = batch_size * np.array(shares)
    assert (counts.sum(1) == batch_size).all()
    assert (counts >= np.floor(target + 1e-9)).all()
    assert (counts <= np.floor(target + 1e-9) + 1).all()
    drift = np.abs(counts.cumsum(0) - np.outer(np.arange(1, 20001), target))
    assert drift.max() < 4  # O(log n) slots, not O(sqrt n)
    # A later window equals the same rows computed from scratch (resumable).
    assert (batch_quotas(shares, batch_size, 12345, 10, 0.37) == counts[12345:12355]).all()


def test_strict_puts_every_group_in_every_batch():
    data = Labels(human=30, mouse=30)
    with pytest.raises(ValueError, match=r"batch_size >= 10 .*'human': 0.1"):
        CrossSpeciesMixedSampler(data, batch_size=4, ratios=dict(human=1, mouse=9), strict=True)
    sampler = CrossSpeciesMixedSampler(data, batch_size=10, ratios=dict(human=1, mouse=9),
                                       strict=True, seed=0)
    counts = np.concatenate([batch_counts(sampler, data, e) for e in range(5)])
    assert (counts[:, 0] >= 1).all()


def test_group_key_is_the_deprecated_name_of_mix_by():
    data = Labels(human=6, mouse=6)
    with pytest.warns(DeprecationWarning, match='use mix_by'):
        old = CrossSpeciesMixedSampler(data, batch_size=4, group_key='organ', seed=0)
    new = CrossSpeciesMixedSampler(data, batch_size=4, mix_by='organ', seed=0)
    assert old.groups == new.groups == ['kidney', 'liver']
    assert (old.epoch_indices(0) == new.epoch_indices(0)).all()


def test_small_group_is_cycled_without_repeats_inside_a_pass():
    data = Labels(human=34, mouse=7)
    sampler = CrossSpeciesMixedSampler(data, batch_size=4, ratios=dict(human=1, mouse=1), seed=1)
    mouse = [i for i in sampler.epoch_indices(0) if data.labels[i] == 'mouse']
    for start in range(0, len(mouse) - 7, 7):  # every pass draws each mouse image once
        assert sorted(mouse[start:start + 7]) == list(range(34, 41))


def test_ranks_are_disjoint_and_cover_the_epoch():
    data = Labels(human=40, mouse=40)
    streams = []
    for rank in (0, 1):
        with mock.patch(f'{MODULE}.get_dist_info', return_value=(rank, 2)):
            sampler = CrossSpeciesMixedSampler(data, batch_size=4,
                                               ratios=dict(human=1, mouse=1), seed=5)
        streams.append(sampler.epoch_indices(0))
        assert len(sampler) == len(streams[-1]) == 40
    assert not set(streams[0]) & set(streams[1])
    assert set(streams[0]) | set(streams[1]) == set(range(80))


def test_same_seed_same_stream_and_set_epoch_reshuffles():
    data = Labels(human=30, mouse=50)

    def take(sampler, n=200):
        it = iter(sampler)
        return [next(it) for _ in range(n)]
    a = CrossSpeciesMixedSampler(data, batch_size=4, temperature=2, seed=9)
    b = CrossSpeciesMixedSampler(data, batch_size=4, temperature=2, seed=9)
    assert take(a) == take(b)
    finite = CrossSpeciesMixedSampler(data, batch_size=4, temperature=2, seed=9, infinite=False)
    first = list(finite)
    finite.set_epoch(1)
    assert list(finite) != first and len(first) == len(finite) == 80


def test_repeat_factor_balances_rare_subgroups():
    data = Labels(human=100)  # organ: every 5th is liver (20 %)
    plain = CrossSpeciesMixedSampler(data, batch_size=4, seed=0, infinite=False)
    balanced = CrossSpeciesMixedSampler(data, batch_size=4, seed=0, infinite=False,
                                        balance_by='organ', repeat_threshold=0.5)
    liver = lambda s: np.mean([data.get_data_info(i)['organ'] == 'liver'  # noqa: E731
                               for e in range(10) for i in s.epoch_indices(e)])
    assert liver(plain) == pytest.approx(0.2, abs=0.01)
    assert liver(balanced) > 0.25


@pytest.mark.parametrize('kwargs, message', [
    (dict(ratios=dict(human=1, rat=1)), r"ratios for groups without samples: \['rat'\]"),
    (dict(ratios=dict(human=0, mouse=0)), 'not all zero'),
    (dict(ratios=dict(human=1), temperature=2), 'not both'),
    (dict(batch_size=1, ratios=dict(human=1, mouse=1), strict=True), r'batch_size >= 2\b'),
])
def test_clear_errors(kwargs, message):
    kwargs = dict(dict(batch_size=4), **kwargs)
    with pytest.raises(ValueError, match=message):
        CrossSpeciesMixedSampler(Labels(human=5, mouse=5), **kwargs)


def test_concat_of_manifest_datasets_via_registry(demo_data):
    init_default_scope('mmseg')
    parts = [DATASETS.build(dict(type='NuInsSegDataset', data_root=demo_data,
                                 filters=dict(species=s))) for s in ('human', 'mouse')]
    concat = ConcatDataset(parts)
    sampler = DATA_SAMPLERS.build(dict(type='CrossSpeciesMixedSampler', batch_size=4,
                                       ratios=dict(human=1, mouse=1)),
                                  default_args=dict(dataset=concat, seed=0))
    idx = list(sampler.epoch_indices(0))
    species = [concat.get_data_info(i)['species'] for i in idx]
    assert species.count('human') == species.count('mouse') == len(idx) // 2


def test_group_shares_natural_and_uniform():
    assert group_shares(dict(a=10, b=30)) == dict(a=0.25, b=0.75)
    far = group_shares(dict(a=10, b=30), temperature=1e6)
    assert far['a'] == pytest.approx(0.5, abs=1e-5)


@pytest.mark.heavy
def test_loader_and_sampler_batch_sizes_must_agree(demo_data, tmp_path):
    """A --cfg-options that changes the loader's batch size but not the sampler's
    is refused at start; a sampler without batch_size takes the loader's."""
    import json
    import os.path as osp

    from helpers import REPO, run_tool
    config = osp.join(REPO, 'tests', 'configs', 'tiny_mixed.py')
    proc = run_tool(['tools/train.py', config, '--work-dir', str(tmp_path / 'a'),
                     '--cfg-options', 'train_dataloader.batch_size=4'], demo_data, check=False,
                    fresh=False)
    assert proc.returncode == 1 and 'Traceback' not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]  # after third-party import warnings
    assert last.startswith('error: train_dataloader.batch_size=4 but its '
                           'CrossSpeciesMixedSampler has batch_size=2')
    assert not osp.exists(tmp_path / 'a')
    run_tool(['tools/train.py', config, '--work-dir', str(tmp_path / 'b'), '--cfg-options',
              'train_dataloader.batch_size=4', 'train_dataloader.sampler.batch_size=None',
              'train_cfg.max_iters=1'], demo_data, fresh=False)
    counts = json.load(open(tmp_path / 'b' / 'group_counts_rank0.json'))
    assert counts['species'] == dict(human=2, mouse=2)  # 1:1 of the loader's 4


@pytest.mark.heavy
def test_two_process_run_draws_the_ratio_on_each_rank(demo_data, tmp_path):
    import json
    import os.path as osp

    from helpers import REPO, run_tool
    work = str(tmp_path / 'dist')
    run_tool(['tools/dist_train.sh', osp.join(REPO, 'tests', 'configs', 'tiny_mixed.py'), '2',
              '--work-dir', work, '--cfg-options', 'train_cfg.max_iters=3'], demo_data)
    for rank in (0, 1):
        counts = json.load(open(osp.join(work, f'group_counts_rank{rank}.json')))['species']
        assert counts == dict(human=3, mouse=3)  # 3 iterations x (1 human + 1 mouse)
