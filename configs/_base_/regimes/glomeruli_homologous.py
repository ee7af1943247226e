# Regime 'homologous' for glomeruli: HuBMAP human + Orbit mouse/rat training
# slides, mixed by dataset with temperature 2 (shares ~ sqrt of tile counts),
# species weighted by inverse frequency over the training tiles of both (capped
# at 5; counted and logged by InverseFrequencyWeightHook when training starts).
_base_ = ['./glomeruli.py']
train_dataloader = dict(
    sampler=dict(_delete_=True, type='CrossSpeciesMixedSampler', batch_size=4,
                 mix_by='dataset', temperature=2.0),
    dataset=dict(_delete_=True, type='ConcatDataset', datasets=[
        dict(type='HuBMAPDataset', data_root='data/hubmap', pipeline={{_base_.train_pipeline}},
             filters=dict(split='train')),
        dict(type='OrbitGlomeruliDataset', data_root='data/orbit',
             pipeline={{_base_.train_pipeline}}, filters=dict(split='train'))]))
custom_hooks = [dict(type='InverseFrequencyWeightHook', by='species', max_weight=5.0)]
