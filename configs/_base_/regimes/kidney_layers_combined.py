# Kidney layers with one head over the finest label set (label hierarchy):
# mouse layers {cortex, outer stripe, inner stripe, inner medulla} and human
# {cortex, medulla} (HuBMAP anatomy masks, converted with --anatomy), where
# medulla = outer stripe + inner stripe + inner medulla. Human labels are
# offset to their label-set nodes (label_offset=5, see docs/losses.md).
# Mouse layer tiles: your own annotations in the manifest format, masks
# 0 background / 1 cortex / 2 outer stripe / 3 inner stripe / 4 inner medulla.
_base_ = ['../datasets/tiles_multiscale_tta.py', '../default_runtime.py']
crop_size = (1024, 1024)
label_tree = dict(
    leaves=['background', 'cortex', 'outer_stripe', 'inner_stripe', 'inner_medulla'],
    nodes=dict(medulla=['outer_stripe', 'inner_stripe', 'inner_medulla']),
    label_sets=dict(mouse=['background', 'cortex', 'outer_stripe', 'inner_stripe',
                           'inner_medulla'],
                    human=['background', 'cortex', 'medulla']))
mouse_layers = dict(
    type='CrossSpeciesSegDataset', data_root='data/mouse_kidney_layers',
    metainfo=dict(classes=('background', 'cortex', 'outer_stripe', 'inner_stripe',
                           'inner_medulla')))
human_layers = dict(type='HuBMAPAnatomyDataset', data_root='data/hubmap', label_offset=5)
train_dataloader = dict(
    batch_size=2,
    sampler=dict(_delete_=True, type='CrossSpeciesMixedSampler', batch_size=2,
                 mix_by='species', ratios=dict(human=1, mouse=1)),
    dataset=dict(_delete_=True, type='ConcatDataset', ignore_keys=['classes', 'palette', 'label_map'],
                 datasets=[dict(mouse_layers, filters=dict(split='train'),
                                pipeline={{_base_.train_pipeline}}),
                           dict(human_layers, filters=dict(split='train'),
                                pipeline={{_base_.train_pipeline}})]))
val_dataloader = dict(dataset=dict(
    _delete_=True, type='ConcatDataset', ignore_keys=['classes', 'palette', 'label_map'],
    datasets=[dict(mouse_layers, filters=dict(split='val'), pipeline={{_base_.test_pipeline}}),
              dict(human_layers, filters=dict(split='val'),
                   pipeline={{_base_.test_pipeline}})]))
test_dataloader = val_dataloader
# Each dataset scored in its own label set (leaf predictions mapped up).
val_evaluator = dict(type='GroupIoUMetric', report_by=('species',), label_tree=label_tree)
test_evaluator = val_evaluator
