# Regime 'homologous' for glomeruli: HuBMAP human + Orbit mouse/rat training
# slides, mixed by dataset with temperature 2 (shares ~ sqrt of tile counts),
# species weighted by inverse frequency over both manifests (capped at 5).
_base_ = ['./glomeruli.py']
train_dataloader = dict(
    sampler=dict(_delete_=True, type='CrossSpeciesMixedSampler', batch_size=4,
                 mix_by='dataset', temperature=2.0),
    dataset=dict(_delete_=True, type='ConcatDataset', datasets=[
        dict(type='HuBMAPDataset', data_root='data/hubmap', pipeline={{_base_.train_pipeline}},
             filters={'!slide': ['1e2425f28', 'afa5e8098', 'b9a3865fc', 'cb2d976f4']}),
        dict(type='OrbitGlomeruliDataset', data_root='data/orbit',
             pipeline={{_base_.train_pipeline}}, filters=dict(split='train'))]))
species_weight = dict(
    type='inverse_frequency', manifest=['data/hubmap/manifest.csv', 'data/orbit/manifest.csv'],
    column='species', max_weight=5.0)
