# Synthetic two-species nuclei tiles (crossspec_mmseg.demo), 128 px.
# Generate with: python tools/make_demo_data.py data/demo
custom_imports = dict(imports=['crossspec_mmseg'], allow_failed_imports=False)

dataset_type = 'CrossSpeciesSegDataset'
data_root = 'data/demo'
crop_size = (128, 128)
metainfo = dict(classes=('background', 'nucleus'), palette=[[0, 0, 0], [255, 64, 64]])
# PackSegInputs' default keys plus the manifest columns the sampler/metrics use.
meta_keys = ('img_path', 'seg_map_path', 'ori_shape', 'img_shape', 'pad_shape',
             'scale_factor', 'flip', 'flip_direction', 'reduce_zero_label',
             'dataset', 'species', 'organ', 'slide', 'group', 'split')

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomFlip', prob=0.5, direction='vertical'),
    dict(type='PhotoMetricDistortion', brightness_delta=16, contrast_range=(0.8, 1.2),
         saturation_range=(0.8, 1.2), hue_delta=8),
    dict(type='PackSegInputs', meta_keys=meta_keys),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs', meta_keys=meta_keys),
]

train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, metainfo=metainfo,
                 filters=dict(split='train'), pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, metainfo=metainfo,
                 filters=dict(split='val'), pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=1,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, metainfo=metainfo,
                 filters=dict(split='test'), pipeline=test_pipeline))
val_evaluator = dict(type='GroupIoUMetric', group_keys=('species',))
test_evaluator = val_evaluator
