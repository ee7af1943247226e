# The demo config shrunk for tests: 64 px tiles, batch 2, a few iterations.
# Data root from $CROSSSPEC_DATA (set by the tests' fixtures).
_base_ = ['../../configs/demo/deeplabv3plus_r18-d8_demo.py']
data_root = '{{$CROSSSPEC_DATA:data/demo}}'
crop_size = (64, 64)
max_iters = 4
model = dict(data_preprocessor=dict(size=crop_size),
             backbone=dict(base_channels=16, stem_channels=16),
             decode_head=dict(in_channels=128, c1_in_channels=16, channels=16, c1_channels=8),
             auxiliary_head=dict(in_channels=64, channels=16))
train_dataloader = dict(batch_size=2, dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = dict(dataset=dict(data_root=data_root))
param_scheduler = [dict(type='PolyLR', power=0.9, eta_min=1e-5, begin=0, end=max_iters,
                        by_epoch=False)]
train_cfg = dict(max_iters=max_iters, val_interval=2)
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval=2, max_keep_ckpts=3))
