"""Sampler cost: one epoch of indices for 1,000,000 samples in 3 groups, and
per-batch overhead, against mmengine's DefaultSampler on the same dataset.

    python benchmarks/sampler.py [--samples 1000000] [--batch-size 8]
"""
from __future__ import annotations

import argparse
import time

import numpy as np


class GroupLabels:
    """A dataset of ``n`` items whose data info carries only a species."""

    def __init__(self, counts):
        self.labels = np.repeat(np.array(list(counts)), list(counts.values()))

    def __len__(self):
        return len(self.labels)

    def get_data_info(self, i):
        return dict(species=self.labels[i])


def timed(fn, repeat=3):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--samples', type=int, default=1_000_000)
    parser.add_argument('--batch-size', type=int, default=8)
    args = parser.parse_args()
    from mmengine.dataset import DefaultSampler

    from crossspec_mmseg.samplers import CrossSpeciesMixedSampler

    n = args.samples
    data = GroupLabels({'human': n // 10, 'mouse': n * 6 // 10, 'rat': n - n // 10 - n * 6 // 10})
    default = DefaultSampler(data, shuffle=True, seed=0)
    start = time.perf_counter()
    ours = CrossSpeciesMixedSampler(data, batch_size=args.batch_size, temperature=2.0, seed=0,
                                    infinite=False)
    build = time.perf_counter() - start
    exact = CrossSpeciesMixedSampler(data, batch_size=args.batch_size,
                                     ratios=dict(human=1, mouse=2, rat=1), seed=0, infinite=False)
    t_default = timed(lambda: list(iter(default)))
    t_temp = timed(lambda: list(iter(ours)))
    t_exact = timed(lambda: list(iter(exact)))
    batches = len(ours) / args.batch_size
    print(f'{n:,} samples, 3 groups, batch {args.batch_size}:')
    print(f'  mmengine DefaultSampler epoch        : {t_default:6.3f} s')
    print(f'  CrossSpeciesMixedSampler, T=2 epoch  : {t_temp:6.3f} s '
          f'({t_temp / batches * 1e6:.2f} us per batch; one-off init reading '
          f'{n:,} data infos: {build:.2f} s)')
    print(f'  CrossSpeciesMixedSampler, 1:2:1 epoch: {t_exact:6.3f} s')
    print(f'ratio vs DefaultSampler: x{t_temp / t_default:.2f} (temperature), '
          f'x{t_exact / t_default:.2f} (exact ratios)')


if __name__ == '__main__':
    main()
