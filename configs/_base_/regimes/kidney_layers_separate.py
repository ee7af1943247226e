# Regime 'separate' for kidney layers: the human cortex/medulla tiles only (same
# head over the finest label set, same validation and test as 'combined').
_base_ = ['./kidney_layers_combined.py']
train_dataloader = dict(
    sampler=dict(_delete_=True, type='InfiniteSampler', shuffle=True),
    dataset=dict(_delete_=True, type='HuBMAPAnatomyDataset', data_root='data/hubmap',
                 label_offset=5, filters=dict(split='train'), pipeline={{_base_.train_pipeline}}))
