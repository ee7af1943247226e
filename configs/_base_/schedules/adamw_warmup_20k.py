# MMSeg's 20k-iteration schedule with AdamW and 1500 linear warm-up iterations
# then poly decay (the glomeruli paper; lr 1e-4 for MobileNet, configs using
# SegNeXt override it to 6e-5 as MMSeg's SegNeXt does).
_base_ = ['mmseg::_base_/schedules/schedule_20k.py']
optim_wrapper = dict(
    _delete_=True, type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.01))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', power=1.0, begin=1500, end=20000, eta_min=0.0, by_epoch=False)]
# Checkpoints written atomically (temp file, fsync, rename): a kill mid-write
# leaves the previous ones intact (crossspec_mmseg's 'atomic_local' backend).
default_hooks = dict(checkpoint=dict(backend_args=dict(backend='atomic_local')))
