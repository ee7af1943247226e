"""A sampler that fixes how much of each species (or dataset, organ...) each batch holds.

Quotas: when ``batch_size * share`` is an integer for every group, each batch
holds exactly that many of each group. Otherwise the epoch's slots are
apportioned by largest remainder and each group's slots are spread evenly
over the epoch (stride scheduling with seeded offsets, see
:func:`slot_groups`): every batch gets the floor or ceiling of its share (to
within a slot), running counts never drift from the target, and no group is
favoured. A per-batch multinomial would drift by ~sqrt(batches) and could
leave a group out of a batch by chance; this is also fully vectorised (one
stable merge per epoch).

Within a group, samples are drawn without replacement from a seeded
permutation, reshuffled when it runs out (a small group is cycled, not
drowned). Optional repeat-factor balancing (LVIS-style) repeats samples of
rare sub-groups (e.g. organs inside a species) inside their group.

Epoch: ``ceil(len(dataset) / (batch_size * world_size))`` batches per rank,
i.e. as many samples as one pass over the dataset. Global batches are dealt
round-robin to ranks, so ranks never share a draw. The stream depends only on
``seed`` and the epoch: rerunning, or resuming (mmengine replays the
iterator), reproduces it; ``set_epoch`` reshuffles.
"""
from __future__ import annotations

import itertools
import math
from collections import Counter
from typing import Dict, Iterator, Mapping, Optional, Sequence

import numpy as np
from mmengine.dist import get_dist_info, sync_random_seed
from mmseg.registry import DATA_SAMPLERS
from torch.utils.data import Sampler

__all__ = ['CrossSpeciesMixedSampler', 'group_shares', 'slot_groups']


def group_shares(counts: Mapping[str, int], ratios: Optional[Mapping[str, float]] = None,
                 temperature: Optional[float] = None) -> Dict[str, float]:
    """Share of each group in a batch (sums to 1).

    ``ratios`` fixes them (groups left out get 0); otherwise ``temperature``
    ``T`` gives ``n_g ** (1 / T)`` (1: natural frequencies, large: uniform).

    Raises:
        ValueError: both or invalid options, a ratio for a group without
            samples, all-zero ratios.
    """
    if ratios is not None and temperature is not None:
        raise ValueError('give ratios or temperature, not both')
    if ratios is not None:
        empty = sorted(g for g, r in ratios.items() if r > 0 and counts.get(g, 0) == 0)
        if empty:
            raise ValueError(f'ratios for groups without samples: {empty} '
                             f'(groups present: {dict(counts)})')
        if any(r < 0 for r in ratios.values()) or not any(r > 0 for r in ratios.values()):
            raise ValueError(f'ratios must be >= 0 and not all zero, got {dict(ratios)}')
        weights = {g: float(ratios.get(g, 0.0)) for g in counts}
    else:
        t = 1.0 if temperature is None else float(temperature)
        if not t > 0:
            raise ValueError(f'temperature must be > 0, got {temperature}')
        weights = {g: n ** (1.0 / t) for g, n in counts.items()}
    total = sum(weights.values())
    return {g: w / total for g, w in weights.items()}


def slot_groups(shares: Sequence[float], batch_size: int, num_batches: int,
                rng: np.random.Generator) -> np.ndarray:
    """The group of every slot of an epoch, ``num_batches * batch_size`` long.

    Integer per-batch targets (``batch_size * share``) are used exactly in
    every batch. Otherwise each group's ``K_g`` slots (largest remainder of
    ``L * share``, seeded ties) are spread evenly over the epoch: group ``g``
    takes positions ordered by keys ``(k + u_g) / K_g`` with a seeded offset
    ``u_g`` (stride scheduling), so every prefix of the stream holds each
    group's share to within a slot or two and no group is favoured.
    """
    shares = np.asarray(shares, np.float64)
    targets = batch_size * shares
    exact = np.round(targets)
    if np.allclose(targets, exact, atol=1e-9):
        one_batch = np.repeat(np.arange(len(shares)), exact.astype(np.int64))
        return np.tile(one_batch, num_batches)
    total = batch_size * num_batches
    ideal = total * shares
    counts = np.floor(ideal).astype(np.int64)
    remainder = total - counts.sum()
    tie = rng.random(len(shares))
    order = np.lexsort((tie, -(ideal - counts)))  # largest fractional part first
    counts[order[:remainder]] += 1
    keys = np.concatenate([(np.arange(k) + rng.random()) / k for k in counts if k > 0])
    groups = np.repeat(np.flatnonzero(counts > 0), counts[counts > 0])
    return groups[np.argsort(keys, kind='stable')]


@DATA_SAMPLERS.register_module()
class CrossSpeciesMixedSampler(Sampler):
    """Batches with fixed group quotas; see the module docstring.

    Args:
        dataset: Any dataset with ``get_data_info(i)`` holding ``group_key``
            (the manifest datasets, or an mmengine ``ConcatDataset`` of them).
        batch_size: The dataloader's per-GPU batch size (quotas are per batch).
        group_key: Metainfo key that defines groups (``species``, ``dataset``...).
        ratios: Fixed shares, e.g. ``dict(human=1, mouse=1)``.
        temperature: Shares ``∝ n_g ** (1/T)`` when ``ratios`` is not given.
        balance_key: Optional key for repeat-factor balancing inside a group.
        repeat_threshold: LVIS threshold ``t``: a sample whose sub-group has
            frequency ``f`` inside its group is repeated ``max(1, sqrt(t/f))``
            times per pass (stochastic rounding).
        strict: Require every group with a nonzero share in every batch.
        infinite: Yield forever (iteration-based loops) instead of one epoch.
        shuffle: Shuffle within groups (False keeps dataset order per group).
        seed: Random seed (synchronised across ranks when None).
    """

    def __init__(self, dataset, batch_size: int, group_key: str = 'species',
                 ratios: Optional[Mapping[str, float]] = None,
                 temperature: Optional[float] = None, balance_key: Optional[str] = None,
                 repeat_threshold: float = 0.5, strict: bool = False, infinite: bool = True,
                 shuffle: bool = True, seed: Optional[int] = None) -> None:
        if batch_size < 1:
            raise ValueError(f'batch_size must be >= 1, got {batch_size}')
        self.rank, self.world_size = get_dist_info()
        self.dataset, self.batch_size = dataset, batch_size
        self.infinite, self.shuffle = infinite, shuffle
        self.seed = sync_random_seed() if seed is None else seed
        self.epoch = 0
        infos = [dataset.get_data_info(i) for i in range(len(dataset))]
        missing = [i for i, info in enumerate(infos) if group_key not in info]
        if missing:
            raise KeyError(f'samples {missing[:5]} have no {group_key!r} in their data info; '
                           'use a manifest dataset')
        labels = np.array([str(info[group_key]) for info in infos])
        self.groups = sorted(set(labels))
        shares = group_shares(Counter(labels), ratios, temperature)
        self.shares = np.array([shares[g] for g in self.groups])
        if strict and batch_size < int((self.shares > 0).sum()):
            raise ValueError(f'strict quotas need batch_size >= {(self.shares > 0).sum()} '
                             f'(groups with a share), got {batch_size}')
        self.members = [np.flatnonzero(labels == g) for g in self.groups]
        self.repeat = [self._repeat_factors(infos, m, balance_key, repeat_threshold)
                       for m in self.members]
        self.num_batches = self.world_size * math.ceil(
            len(dataset) / (batch_size * self.world_size))

    @staticmethod
    def _repeat_factors(infos, members, key, threshold) -> Optional[np.ndarray]:
        if key is None:
            return None
        sub = [str(infos[i][key]) for i in members]
        freq = Counter(sub)
        return np.array([max(1.0, math.sqrt(threshold / (freq[s] / len(sub)))) for s in sub])

    def _group_draws(self, g: int, need: int, rng: np.random.Generator) -> np.ndarray:
        """``need`` indices of group ``g``: shuffled passes, repeats per factor."""
        members, repeat = self.members[g], self.repeat[g]
        draws, total = [], 0
        while total < need:
            if repeat is None:
                one_pass = members
            else:  # stochastic rounding of the repeat factors
                copies = np.floor(repeat + rng.random(len(repeat))).astype(np.int64)
                one_pass = np.repeat(members, copies)
            if self.shuffle:
                one_pass = rng.permutation(one_pass)
            draws.append(one_pass)
            total += len(one_pass)
        return np.concatenate(draws)[:need] if draws else np.empty(0, np.int64)

    def epoch_indices(self, epoch: int) -> np.ndarray:
        """This rank's indices for one epoch (``len(self)`` of them)."""
        rng = np.random.default_rng([self.seed, epoch])
        slot_group = slot_groups(self.shares, self.batch_size, self.num_batches, rng)
        stream = np.empty(len(slot_group), np.int64)
        for g in range(len(self.groups)):
            slots = np.flatnonzero(slot_group == g)
            stream[slots] = self._group_draws(g, len(slots), rng)
        batches = stream.reshape(self.num_batches, self.batch_size)
        return batches[self.rank::self.world_size].ravel()

    def __iter__(self) -> Iterator[int]:
        if not self.infinite:
            yield from self.epoch_indices(self.epoch).tolist()
            return
        for epoch in itertools.count(self.epoch):
            yield from self.epoch_indices(epoch).tolist()

    def __len__(self) -> int:
        return self.num_batches // self.world_size * self.batch_size

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
