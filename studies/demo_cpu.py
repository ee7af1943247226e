# A study that runs on a laptop CPU (2 cores: 35 minutes; docs/study.md): the
# demo's synthetic NuInsSeg-format kidney data (20 human, 80 mouse images; `make demo` makes it),
# the demo's half-width DeepLabV3+ R-18, 150 iterations per training, three
# group-preserving folds (images kept whole), one seed. Regimes: human only,
# human + mouse (mixed sampler, species weights, focal + Dice) and mouse
# pre-training then human fine-tuning, each with and without HED stain jitter.
#     python tools/run_study.py studies/demo_cpu.py
# Recorded in docs/study.md.
work_dir = 'work_dirs/study_demo_cpu'
folds = dict(k=3, by='case')
seeds = [0]
baseline = 'separate'
report = ['species/human', 'species/mouse']
metrics = dict(mIoU='mIoU', Dice='Dice.nucleus', PQ='PQ', AJI='AJI')
iters = 150
options = {
    'train_cfg.max_iters': iters,
    'param_scheduler': [
        dict(type='LinearLR', start_factor=0.1, begin=0, end=25, by_epoch=False),
        dict(type='PolyLR', power=0.9, eta_min=1e-5, begin=25, end=iters, by_epoch=False)],
    'default_hooks.checkpoint.interval': 75,
}
model = 'DeepLabV3+ R-18 (half width)'
hed = 'train_pipeline_hed'
runs = [
    dict(model=model, arm='separate', config='configs/demo/demo_separate.py'),
    dict(model=model, arm='combined', config='configs/demo/demo_combined.py'),
    dict(model=model, arm='pretrain > finetune', config='configs/demo/demo_finetune.py',
         pretrain='configs/demo/demo_pretrain.py'),
    dict(model=model, arm='separate + HED', config='configs/demo/demo_separate.py',
         pipeline=hed),
    dict(model=model, arm='combined + HED', config='configs/demo/demo_combined.py',
         pipeline=hed),
    dict(model=model, arm='pretrain > finetune + HED', config='configs/demo/demo_finetune.py',
         pretrain='configs/demo/demo_pretrain.py', pipeline=hed),
]
