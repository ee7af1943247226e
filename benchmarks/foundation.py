"""Training cost of a pathology foundation encoder (issue 27): per-iteration time
and peak memory of UPerNet on a ViT-L/16 (UNI's structure, random weights) at
512 px, frozen vs LoRA (r 8) vs full fine-tuning, each with and without
gradient checkpointing, against the project's DeepLabV3+ R-50-D8 (MMSeg's stock
model) on the same batch.

    python benchmarks/foundation.py [--size 512] [--batch 2] [--iters 3] [--device cpu]

Each variant runs in a fresh process (so its peak is its own): one warm-up
iteration, then the median of ``--iters`` (forward, loss, backward, AdamW
step). Peak memory: the process's peak resident set on the CPU (the model,
optimiser state and activations; the interpreter's and libraries' ~0.5 GB
included, the same for every row), ``torch.cuda.max_memory_allocated`` on a
GPU. Ratios are against DeepLabV3+ R-50 on the same device.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
VARIANTS = [('DeepLabV3+ R-50-D8', None, False), ('ViT-L/16 frozen', 'frozen', False),
            ('ViT-L/16 frozen + ckpt', 'frozen', True), ('ViT-L/16 LoRA', 'lora', False),
            ('ViT-L/16 LoRA + ckpt', 'lora', True), ('ViT-L/16 full', 'full', False),
            ('ViT-L/16 full + ckpt', 'full', True)]


def build(tuning, with_cp):
    from mmengine.config import Config
    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    import crossspec_mmseg  # noqa: F401
    init_default_scope('mmseg')
    if tuning is None:
        cfg = Config.fromfile(os.path.join(ROOT, 'configs/crossspec/deeplabv3plus_separate.py'))
        cfg.model.pretrained = None
        cfg.model.backbone.init_cfg = None
    else:
        cfg = Config.fromfile(os.path.join(
            ROOT, 'configs/foundation/uni-lora_upernet_nuinsseg-kidney_separate.py'))
        cfg.model.backbone.update(weights=None, tuning=tuning, with_cp=with_cp,
                                  lora=dict(r=8, alpha=16))
    cfg.model.data_preprocessor.size = None
    return revert_sync_batchnorm(MODELS.build(cfg.model))  # SyncBN needs a process group


def child(args):
    """One variant: prints a JSON line with its times and peak memory."""
    import torch
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    torch.manual_seed(0)
    name, tuning, with_cp = VARIANTS[args.variant]
    device = torch.device(args.device)
    model = build(tuning, with_cp).to(device).train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-4)
    inputs = torch.rand(args.batch, 3, args.size, args.size, device=device)
    samples = []
    for _ in range(args.batch):
        sample = SegDataSample(metainfo=dict(img_shape=(args.size,) * 2,
                                             pad_shape=(args.size,) * 2,
                                             ori_shape=(args.size,) * 2, species='human'))
        sample.gt_sem_seg = PixelData(data=torch.randint(
            0, 2, (1, args.size, args.size), device=device))
        samples.append(sample)
    times = []
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats()
    for i in range(args.iters + 1):
        if device.type == 'cuda':
            torch.cuda.synchronize()
        start = time.perf_counter()
        losses = model.loss(inputs, samples)
        loss = sum(v for k, v in losses.items() if 'loss' in k)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if device.type == 'cuda':
            torch.cuda.synchronize()
        if i:  # the first is warm-up
            times.append(time.perf_counter() - start)
    peak = (torch.cuda.max_memory_allocated() / 2**30 if device.type == 'cuda'
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20)
    print(json.dumps(dict(name=name, seconds=statistics.median(times), peak_gb=peak,
                          trainable_m=sum(p.numel() for p in params) / 1e6)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--size', type=int, default=512)
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--iters', type=int, default=3)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--variant', type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant is not None:
        return child(args)
    rows = []
    for index, (name, _, _) in enumerate(VARIANTS):
        print(f'{name} ...', file=sys.stderr, flush=True)
        out = subprocess.run([sys.executable, __file__, '--variant', str(index), '--size',
                              str(args.size), '--batch', str(args.batch), '--iters',
                              str(args.iters), '--device', args.device],
                             capture_output=True, text=True)
        if out.returncode:
            sys.exit(f'{name} failed:\n{out.stderr[-3000:]}')
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    base = rows[0]
    memory = 'peak GPU memory' if args.device.startswith('cuda') else 'peak RSS'
    print(f'{args.batch} x {args.size} px, {args.device}, median of {args.iters} iterations '
          '(forward, loss, backward, AdamW step)')
    print(f'| model | trainable M | s / iteration | x DeepLabV3+ | {memory} GB | x DeepLabV3+ |')
    print('| --- | ---: | ---: | ---: | ---: | ---: |')
    for row in rows:
        print(f"| {row['name']} | {row['trainable_m']:.1f} | {row['seconds']:.2f} | "
              f"{row['seconds'] / base['seconds']:.2f} | {row['peak_gb']:.2f} | "
              f"{row['peak_gb'] / base['peak_gb']:.2f} |")


if __name__ == '__main__':
    main()
