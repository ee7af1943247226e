# MMSeg's 20k-iteration schedule with SGD (momentum 0.9, weight decay 1e-4),
# lr 1e-3 and cosine decay to 0.01x: the kidney-layer paper's joint setting.
_base_ = ['mmseg::_base_/schedules/schedule_20k.py']
optimizer = dict(type='SGD', lr=1e-3, momentum=0.9, weight_decay=1e-4)
optim_wrapper = dict(type='OptimWrapper', optimizer=optimizer, clip_grad=None)
param_scheduler = [
    dict(type='CosineAnnealingLR', eta_min_ratio=0.01, begin=0, end=20000, by_epoch=False)]
# Checkpoints written atomically (temp file, fsync, rename): a kill mid-write
# leaves the previous ones intact (crossspec_mmseg's 'atomic_local' backend).
default_hooks = dict(checkpoint=dict(backend_args=dict(backend='atomic_local')))
