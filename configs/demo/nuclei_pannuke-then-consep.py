# Typed-nuclei demo, run "A then B": nuclei_consep.py (the synthetic CoNSeP, the
# same model and schedule) for 200 iterations, starting from the last checkpoint of
# nuclei_pannuke.py with every layer, the head included, nothing frozen, as
# configs/nuclei/contour_deeplabv3plus_pannuke-then-consep.py does. Stage 1 is found
# in work_dirs/nuclei_pannuke (tools/train.py's default for it), or pass
# --cfg-options load_from=PATH (scripts/demo_nuclei.sh passes its own).
_base_ = ['./nuclei_consep.py']
max_iters = 200
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, begin=0, end=30, by_epoch=False),
    dict(type='PolyLR', power=0.9, eta_min=1e-5, begin=30, end=max_iters, by_epoch=False)]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
custom_hooks = [dict(type='InitFromStageHook', work_dir='work_dirs/nuclei_pannuke',
                     config='configs/demo/nuclei_pannuke.py')]
train_origins = ['consep', 'pannuke']
unseen_test = dict(filters={'!origin': train_origins})
