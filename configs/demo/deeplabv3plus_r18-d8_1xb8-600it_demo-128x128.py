# DeepLabV3+ with a ResNet-18 (V1c) backbone on the synthetic two-species demo,
# from scratch on CPU. Used by `make demo` and the tests.
_base_ = [
    'mmseg::_base_/models/deeplabv3plus_r50-d8.py',
    '../_base_/datasets/crossspec_demo.py',
    'mmseg::_base_/default_runtime.py',
]
max_iters = 600
model = dict(
    pretrained=None,  # nothing is downloaded: train from scratch
    data_preprocessor=dict(size={{_base_.crop_size}}),
    backbone=dict(depth=18),
    decode_head=dict(in_channels=512, c1_in_channels=64, channels=128,
                     dilations=(1, 6, 12, 18), num_classes=2),
    auxiliary_head=dict(in_channels=256, channels=64, num_classes=2))

optim_wrapper = dict(type='OptimWrapper',
                     optimizer=dict(type='AdamW', lr=2e-3, weight_decay=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, begin=0, end=50, by_epoch=False),
    dict(type='PolyLR', power=0.9, eta_min=1e-5, begin=50, end=max_iters, by_epoch=False),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=200)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=200, max_keep_ckpts=2),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
env_cfg = dict(cudnn_benchmark=False)
randomness = dict(seed=0)
