# Glomeruli: human PAS (HuBMAP, tiled at x0.4 to mouse size) and mouse/rat
# (Orbit). The regime files choose the training mix; validation and test
# report each dataset and species separately. Held-out HuBMAP slides: the
# converter's split column (validation 1e2425f28, afa5e8098; test b9a3865fc,
# cb2d976f4 unless converted with --splits).
_base_ = ['../datasets/tiles_multiscale_tta.py', '../default_runtime.py']
val_dataloader = dict(dataset=dict(
    _delete_=True, type='ConcatDataset', datasets=[
        dict(type='HuBMAPDataset', data_root='data/hubmap',
             filters=dict(split='val'), pipeline={{_base_.test_pipeline}}),
        dict(type='OrbitGlomeruliDataset', data_root='data/orbit',
             filters=dict(split='test'), pipeline={{_base_.test_pipeline}})]))
test_dataloader = dict(dataset=dict(
    _delete_=True, type='ConcatDataset', datasets=[
        dict(type='HuBMAPDataset', data_root='data/hubmap',
             filters=dict(split='test'), pipeline={{_base_.test_pipeline}}),
        dict(type='OrbitGlomeruliDataset', data_root='data/orbit',
             filters=dict(split='test'), pipeline={{_base_.test_pipeline}})]))
# Also |glomeruli in ground truth - predicted| per tile (components >= 100 px).
val_evaluator = dict(type='GroupIoUMetric', report_by=('dataset', 'species'),
                     count_classes=('glomerulus',), min_area=100)
test_evaluator = val_evaluator
