# Regime 'separate' for glomeruli: the human HuBMAP training slides only.
_base_ = ['./glomeruli.py']
train_dataloader = dict(dataset=dict(
    type='HuBMAPDataset', data_root='data/hubmap', pipeline={{_base_.train_pipeline}},
    filters={'!slide': ['1e2425f28', 'afa5e8098', 'b9a3865fc', 'cb2d976f4']}))
