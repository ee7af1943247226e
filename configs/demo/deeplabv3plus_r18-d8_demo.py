# The demo's shared set-up: DeepLabV3+ with a half-width ResNet-18 (V1c, 32 base
# channels), from scratch on CPU (~0.4 s/iter on 2 cores, batch 8 x 128 px), on a
# synthetic NuInsSeg-format download (scarce human + plentiful mouse kidney,
# 128 px) run through the real converter (scripts/demo.sh). Trains on every
# training tile with the package's segmentor and CE + Dice loss; the regime
# configs beside it (demo_separate / demo_combined / demo_pretrain /
# demo_finetune) pick the training rows, loss and sampler. Shrunk further by the
# tests (tests/configs/tiny_demo.py).
_base_ = [
    'mmseg::_base_/models/deeplabv3plus_r50-d8.py',
    '../_base_/datasets/nuinsseg.py',
    '../_base_/default_runtime.py',
]
data_root = 'data/demo/nuinsseg'
target = dict(species='human', organ='kidney')
crop_size = (128, 128)
# Folds 3 and 4 (a fifth of the images each) are the demo's validation and test set.
loader = dict(num_workers=0, persistent_workers=False,
              dataset=dict(data_root=data_root, filters=dict(fold=['fold3', 'fold4'])))
train_dataloader = dict(batch_size=8, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root=data_root))
val_dataloader = loader
test_dataloader = loader
val_evaluator = [dict(type='GroupIoUMetric', report_by=('species',)),
                 dict(type='GroupInstanceMetric', report_by=('species',),
                      postprocess={{_base_.nucleus_postprocess}})]
test_evaluator = val_evaluator
max_iters = 400
model = dict(
    type='CrossSpeciesEncoderDecoder',
    pretrained=None,  # nothing is downloaded: train from scratch
    data_preprocessor=dict(size=crop_size),
    backbone=dict(depth=18, base_channels=32, stem_channels=32),
    decode_head=dict(in_channels=256, c1_in_channels=32, channels=64, c1_channels=32,
                     dilations=(1, 6, 12, 18), num_classes=2,
                     loss_decode=dict(_delete_=True, type='CEDiceLoss', lambda_ce=0.5,
                                      lambda_dice=0.75)),
    auxiliary_head=dict(in_channels=128, channels=32, num_classes=2,
                        loss_decode=dict(_delete_=True, type='CEDiceLoss', lambda_ce=0.2,
                                         lambda_dice=0.3)))

optim_wrapper = dict(type='OptimWrapper',
                     optimizer=dict(type='AdamW', lr=2e-3, weight_decay=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, begin=0, end=50, by_epoch=False),
    dict(type='PolyLR', power=0.9, eta_min=1e-5, begin=50, end=max_iters, by_epoch=False),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
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
