"""A sampler that fixes how much of each species (or dataset, organ...) each batch holds.

Quotas: each group ``g`` with share ``s_g`` gets ``floor(B * s_g)`` slots in
every batch of ``B``, or one more: the ``r = B - sum floor(B * s_g)`` leftover
slots of a batch go to groups in proportion to their fractional parts, by
systematic sampling on a low-discrepancy (golden-ratio) sequence indexed by
the *global* batch number (see :func:`batch_quotas`). Hence:

* every batch holds the floor or the ceiling of ``B * s_g`` of each group
  (exactly ``B * s_g`` when that is an integer);
* the leftover slots are not re-rounded each epoch but carried on: after
  ``n`` batches a group's count differs from ``n * B * s_g`` by a few slots
  at most (``O(log n)``; measured in ``docs/regimes.md``), so the long-run
  shares converge to the target.

A per-batch multinomial would drift by ~sqrt(batches) and could leave a group
out of a batch by chance. With ``strict=True`` every group with a share must
have ``floor(B * s_g) >= 1``, so it is in every batch.

Within a group, samples are drawn without replacement from a seeded
permutation, reshuffled when it runs out (a small group is cycled, not
drowned). Optional repeat-factor balancing (LVIS-style) repeats samples of
rare sub-groups (e.g. organs inside a species) inside their group.

Epoch: ``ceil(len(dataset) / (batch_size * world_size))`` batches per rank,
i.e. as many samples as one pass over the dataset. Global batches are dealt
round-robin to ranks, so ranks never share a draw. The stream depends only on
``seed`` and the epoch: rerunning, or resuming (mmengine replays the
iterator), reproduces it; ``set_epoch`` reshuffles.

``batch_size`` must equal the dataloader's: ``tools/train.py`` fills it in from
``train_dataloader.batch_size`` when the sampler leaves it out, and refuses a
config where the two differ.
"""
from __future__ import annotations

import itertools
import math
import warnings
from collections import Counter
from typing import Dict, Iterator, Mapping, Optional, Sequence

import numpy as np
from mmengine.dist import get_dist_info, sync_random_seed
from mmseg.registry import DATA_SAMPLERS
from torch.utils.data import Sampler

from ..utils.deprecation import renamed_keyword

__all__ = ['CrossSpeciesMixedSampler', 'batch_quotas', 'group_shares']


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


#: Step of the low-discrepancy sequence that hands out leftover slots.
GOLDEN = (math.sqrt(5) - 1) / 2


def batch_quotas(shares: Sequence[float], batch_size: int, first_batch: int, num_batches: int,
                 phase: float = 0.0) -> np.ndarray:
    """Slots of each group in global batches ``first_batch ... + num_batches``.

    Args:
        shares: Share of each group (sums to 1).
        batch_size: Slots per batch ``B``.
        first_batch: Global index of the first batch (counted across epochs,
            so leftovers carry over instead of being re-rounded per epoch).
        num_batches: How many batches.
        phase: Seeded offset in ``[0, 1)`` of the sequence.

    Returns:
        ``(num_batches, n_groups)`` int64 counts; each row sums to ``B`` and
        holds ``floor(B * s_g)`` or ``floor(B * s_g) + 1``.
    """
    targets = batch_size * np.asarray(shares, np.float64)
    base = np.floor(targets + 1e-9).astype(np.int64)
    fractions = np.clip(targets - base, 0.0, None)
    leftover = batch_size - int(base.sum())
    counts = np.tile(base, (num_batches, 1))
    if leftover <= 0:
        return counts
    # Group g owns [edges[g], edges[g+1]) of [0, leftover); each is shorter than 1,
    # so the points k + phi (k = 0..leftover-1) hit it at most once per batch.
    edges = np.concatenate([[0.0], np.cumsum(fractions)]) * (leftover / fractions.sum())
    batches = np.arange(first_batch, first_batch + num_batches)
    phi = (phase + batches * GOLDEN) % 1.0
    points = np.arange(leftover)[None, :] + phi[:, None]
    owner = np.clip(np.searchsorted(edges, points, side='right') - 1, 0, len(base) - 1)
    np.add.at(counts, (np.repeat(np.arange(num_batches), leftover), owner.ravel()), 1)
    return counts


@DATA_SAMPLERS.register_module()
class CrossSpeciesMixedSampler(Sampler):
    """Batches with fixed group quotas; see the module docstring.

    Args:
        dataset: Any dataset with ``get_data_info(i)`` holding ``mix_by``
            (the manifest datasets, or an mmengine ``ConcatDataset`` of them).
        batch_size: The dataloader's per-GPU batch size (quotas are per batch).
        mix_by: Metainfo key whose values are mixed at fixed shares
            (``species``, ``dataset``, ``organ``...).
        ratios: Fixed shares, e.g. ``dict(human=1, mouse=1)``.
        temperature: Shares ``∝ n_g ** (1/T)`` when ``ratios`` is not given.
        balance_by: Optional metainfo key (manifest column) for repeat-factor
            balancing inside a group (``balance_key`` is its old name).
        repeat_threshold: LVIS threshold ``t``: a sample whose sub-group has
            frequency ``f`` inside its group is repeated ``max(1, sqrt(t/f))``
            times per pass (stochastic rounding).
        strict: Require every group with a nonzero share in every batch
            (``batch_size * share >= 1`` for each; checked here).
        infinite: Yield forever (iteration-based loops) instead of one epoch.
        shuffle: Shuffle within groups (False keeps dataset order per group).
        seed: Random seed (synchronised across ranks when None).
        group_key: Deprecated name of ``mix_by`` (kept for one release).
    """

    def __init__(self, dataset, batch_size: int, mix_by: str = 'species',
                 ratios: Optional[Mapping[str, float]] = None,
                 temperature: Optional[float] = None, balance_by: Optional[str] = None,
                 repeat_threshold: float = 0.5, strict: bool = False, infinite: bool = True,
                 shuffle: bool = True, seed: Optional[int] = None,
                 group_key: Optional[str] = None, balance_key: Optional[str] = None) -> None:
        if group_key is not None:
            warnings.warn('CrossSpeciesMixedSampler(group_key=...) is deprecated: use '
                          'mix_by=...', DeprecationWarning, stacklevel=2)
            mix_by = group_key
        balance_by = renamed_keyword('CrossSpeciesMixedSampler', 'balance_key', 'balance_by',
                                     balance_key, balance_by, None)
        if batch_size < 1:
            raise ValueError(f'batch_size must be >= 1, got {batch_size}')
        self.rank, self.world_size = get_dist_info()
        self.dataset, self.batch_size = dataset, batch_size
        self.infinite, self.shuffle = infinite, shuffle
        self.seed = sync_random_seed() if seed is None else seed
        self.phase = float(np.random.default_rng([self.seed]).random())
        self.epoch = 0
        infos = [dataset.get_data_info(i) for i in range(len(dataset))]
        missing = [i for i, info in enumerate(infos) if mix_by not in info]
        if missing:
            raise KeyError(f'samples {missing[:5]} have no {mix_by!r} in their data info; '
                           'use a manifest dataset')
        labels = np.array([str(info[mix_by]) for info in infos])
        self.groups = sorted(set(labels))
        shares = group_shares(Counter(labels), ratios, temperature)
        self.shares = np.array([shares[g] for g in self.groups])
        if strict:
            self._check_strict()
        self.members = [np.flatnonzero(labels == g) for g in self.groups]
        self.repeat = [self._repeat_factors(infos, m, balance_by, repeat_threshold)
                       for m in self.members]
        self.num_batches = self.world_size * math.ceil(
            len(dataset) / (batch_size * self.world_size))

    def _check_strict(self) -> None:
        """Every group with a share needs at least one guaranteed slot per batch."""
        short = {str(g): round(float(s), 3) for g, s in zip(self.groups, self.shares)
                 if s > 0 and self.batch_size * s < 1 - 1e-9}
        if short:
            need = max(math.ceil(1 / s - 1e-9) for s in self.shares if s > 0)
            raise ValueError(
                f'strict quotas need batch_size >= {need} so that every group is in every '
                f'batch; with batch_size={self.batch_size} groups {short} get less than one '
                'slot per batch: raise batch_size, change the ratios, or drop strict')

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
        quotas = batch_quotas(self.shares, self.batch_size, epoch * self.num_batches,
                              self.num_batches, self.phase)
        slot_group = np.repeat(np.tile(np.arange(len(self.groups)), self.num_batches),
                               quotas.ravel())
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
