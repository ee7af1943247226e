# Regime 'pretrain' for glomeruli (stage 1 of pretrain -> finetune): the Orbit
# mouse/rat training slides only.
_base_ = ['./glomeruli.py']
train_dataloader = dict(dataset=dict(
    type='OrbitGlomeruliDataset', data_root='data/orbit', pipeline={{_base_.train_pipeline}},
    filters=dict(split='train')))
