# DeepLabV3+ with a half-width ResNet-18 (V1c, 32 base channels) on the synthetic
# two-species demo, from scratch on CPU (~0.4 s/iter on 2 cores, batch 8 x 128 px).
# Data: a synthetic NuInsSeg-format download (human + mouse kidney, 128 px) run
# through the real converter (scripts/demo.sh). Used by `make demo` and, shrunk
# further, by the tests.
_base_ = [
    'mmseg::_base_/models/deeplabv3plus_r50-d8.py',
    '../_base_/datasets/nuinsseg.py',
    'mmseg::_base_/default_runtime.py',
]
data_root = 'data/demo/nuinsseg'
crop_size = (128, 128)
loader = dict(num_workers=0, persistent_workers=False, dataset=dict(data_root=data_root))
train_dataloader = dict(batch_size=8, **loader)
val_dataloader = loader
test_dataloader = loader
val_evaluator = [dict(type='GroupIoUMetric', report_by=('species',)),
                 dict(type='GroupInstanceMetric', report_by=('species',),
                      postprocess={{_base_.nucleus_postprocess}})]
test_evaluator = val_evaluator
max_iters = 400
model = dict(
    pretrained=None,  # nothing is downloaded: train from scratch
    data_preprocessor=dict(size=crop_size),
    backbone=dict(depth=18, base_channels=32, stem_channels=32),
    decode_head=dict(in_channels=256, c1_in_channels=32, channels=64, c1_channels=32,
                     dilations=(1, 6, 12, 18), num_classes=2),
    auxiliary_head=dict(in_channels=128, channels=32, num_classes=2))

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
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=200, max_keep_ckpts=2,
                    backend_args=dict(backend='atomic_local')),  # atomic writes
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
env_cfg = dict(cudnn_benchmark=False)
randomness = dict(seed=0)
