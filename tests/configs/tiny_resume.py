# tiny_mixed for 8 iterations, a checkpoint every 2, no validation, and a log of
# every sample drawn (to compare a resumed run's data stream with an uninterrupted one).
_base_ = ['./tiny_mixed.py']
max_iters = 8
param_scheduler = [dict(type='PolyLR', power=0.9, eta_min=1e-5, begin=0, end=max_iters,
                        by_epoch=False)]
train_cfg = dict(max_iters=max_iters, val_interval=100)
default_hooks = dict(checkpoint=dict(interval=2, max_keep_ckpts=4))
custom_hooks = [dict(type='SampleLogHook')]
