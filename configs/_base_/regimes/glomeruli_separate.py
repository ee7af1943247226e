# Regime 'separate' for glomeruli: the human HuBMAP training slides only.
_base_ = ['./glomeruli.py']
train_dataloader = dict(dataset=dict(
    type='HuBMAPDataset', data_root='data/hubmap', pipeline={{_base_.train_pipeline}},
    filters=dict(split='train')))
