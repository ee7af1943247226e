"""Loss forward+backward time and peak memory against MMSeg's and MONAI's losses.

Peers on the same tensors, in one run:
- MMSeg's ``CrossEntropyLoss + DiceLoss`` pair (the stock joint loss);
- MONAI's ``DiceFocalLoss`` (softmax, one-hot targets).
Ours: ``FocalDiceLoss`` (with class and per-pixel species weights, ignore
pixels), ``CEDiceLoss``, and ``HierarchicalFocalDiceLoss`` with a 7-leaf tree
and a coarse label set.

    pip install monai   # benchmark-only dependency
    python benchmarks/losses.py [--shape 8 7 512 512] [--repeat 5] [--device cpu]
"""
from __future__ import annotations

import argparse
import gc
import json
import resource
import subprocess
import sys
import time

import torch


def peers(num_classes: int):
    from mmseg.models.losses import CrossEntropyLoss, DiceLoss

    import crossspec_mmseg  # noqa: F401
    from crossspec_mmseg.models import CEDiceLoss, FocalDiceLoss, HierarchicalFocalDiceLoss

    leaves = [f'c{i}' for i in range(num_classes)]
    tree = dict(leaves=leaves, groups=dict(coarse=leaves[2:]),
                label_sets=dict(fine=leaves, coarse=leaves[:2] + ['coarse']))
    mm_ce, mm_dice = CrossEntropyLoss(loss_weight=1.0), DiceLoss(loss_weight=1.0)
    losses = {
        'mmseg CE + Dice': lambda x, y, w: mm_ce(x, y, ignore_index=255) + mm_dice(
            x, y, ignore_index=255),
        'ours FocalDice (weighted)': lambda x, y, w, f=FocalDiceLoss(
            class_weight=[1.0] * num_classes): f(x, y, weight=w),
        'ours CEDice': lambda x, y, w, f=CEDiceLoss(): f(x, y),
        'ours Hierarchical': lambda x, y, w, f=HierarchicalFocalDiceLoss(label_tree=tree): f(x, y),
    }
    try:
        from monai.losses import DiceFocalLoss
        monai_loss = DiceFocalLoss(softmax=True, to_onehot_y=True)
        losses['monai DiceFocal'] = lambda x, y, w: monai_loss(
            x, torch.where(y == 255, 0, y).unsqueeze(1))
    except ImportError:
        print('monai not installed: its row is skipped (pip install monai)', file=sys.stderr)
    return losses


def rss_mb() -> float:
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def measure(fn, logits, labels, weight, repeat, device):
    """Median forward+backward seconds and peak extra memory (MB) of one pass."""
    times = []
    if device == 'cuda':
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        base = rss_mb()
    for i in range(repeat + 1):
        x = logits.clone().requires_grad_()
        gc.collect()
        start = time.perf_counter()
        fn(x, labels, weight).backward()
        if device == 'cuda':
            torch.cuda.synchronize()
        if i:  # the first call warms up
            times.append(time.perf_counter() - start)
        del x
    if device == 'cuda':
        peak = (torch.cuda.max_memory_allocated() - base) / 2**20
    else:  # the process's peak RSS over its RSS before the passes
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - base
    return sorted(times)[len(times) // 2], peak


def make_inputs(shape, device):
    n, c, h, w = shape
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(n, c, h, w, generator=g).to(device)
    labels = torch.randint(0, c, (n, h, w), generator=g)
    labels[torch.rand(n, h, w, generator=g) < 0.05] = 255
    weight = torch.where(torch.arange(n) % 2 == 0, 2.5, 1.0).view(n, 1, 1).expand(n, h, w)
    return logits, labels.to(device), weight.contiguous().to(device)


def child(name, shape, repeat, device):
    """One loss in a fresh process, so peak RSS is its own."""
    logits, labels, weight = make_inputs(shape, device)
    fn = peers(shape[1])[name]
    seconds, peak = measure(fn, logits, labels, weight, repeat, device)
    print(json.dumps(dict(seconds=seconds, peak_mb=peak)))


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--shape', type=int, nargs=4, default=[8, 7, 512, 512])
    parser.add_argument('--repeat', type=int, default=5)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--child', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.shape, args.repeat, args.device)
        return
    print(f'logits {tuple(args.shape)} on {args.device}, median of {args.repeat} '
          'forward+backward passes; peak = extra memory of one pass')
    results = {}
    for name in peers(args.shape[1]):
        proc = subprocess.run([sys.executable, __file__, '--child', name, '--repeat',
                               str(args.repeat), '--device', args.device, '--shape',
                               *map(str, args.shape)], capture_output=True, text=True,
                              check=True)
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        results[name] = r['seconds']
        print(f'{name:>28}: {r["seconds"] * 1000:8.1f} ms   {r["peak_mb"]:8.0f} MB peak')
    base = results['mmseg CE + Dice']
    for name in results:
        if name.startswith('ours'):
            line = f'{name}: x{results[name] / base:.2f} of mmseg CE + Dice'
            if 'monai DiceFocal' in results:
                line += f', x{results[name] / results["monai DiceFocal"]:.2f} of monai DiceFocal'
            print(line)


if __name__ == '__main__':
    main()
