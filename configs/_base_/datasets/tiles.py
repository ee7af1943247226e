# What every tile dataset shares: pipelines (512 px tiles), loaders, the
# per-species metric. Source configs set each loader's dataset type, root
# and manifest filters.
custom_imports = dict(imports=['crossspec_mmseg'], allow_failed_imports=False)

crop_size = (512, 512)
# PackSegInputs' default keys plus the manifest columns the sampler/metrics use.
meta_keys = ('img_path', 'seg_map_path', 'ori_shape', 'img_shape', 'pad_shape',
             'scale_factor', 'flip', 'flip_direction', 'reduce_zero_label',
             'dataset', 'species', 'organ', 'slide', 'case', 'split', 'fold')

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomFlip', prob=0.5, direction='vertical'),
    dict(type='PhotoMetricDistortion', brightness_delta=16, contrast_range=(0.8, 1.2),
         saturation_range=(0.8, 1.2), hue_delta=8),
    dict(type='PackSegInputs', meta_keys=meta_keys),
]
# Option: stain augmentation (docs/stain.md). `train_pipeline_hed` is
# `train_pipeline` with HED jitter (Tellez et al. 2018) before the photometric
# distortion; a config switches it on with one line:
#     train_dataloader = dict(dataset=dict(pipeline={{_base_.train_pipeline_hed}}))
# (regime configs with several datasets set each dataset's pipeline). Off by default.
hed_jitter = dict(type='RandomHEDJitter', sigma=0.05, bias=0.01, prob=0.5)
train_pipeline_hed = train_pipeline[:-2] + [hed_jitter] + train_pipeline[-2:]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs', meta_keys=meta_keys),
]
# Test-time augmentation (`tools/test.py CONFIG CKPT --tta`): the mean of the
# softmax over the tile, its horizontal and its vertical flip (histology has no
# up or left), at the training scale (nuclei are scored at the scale the model
# learnt; tiles_multiscale_tta.py adds x0.75/x1.25 for glomeruli and layers).
# The manifest metadata stays in meta_keys, so metrics are still per group.
# tta_model (ProbabilityTTAModel: the mean of the softmaxes, kept for the metrics)
# comes from ../default_runtime.py.
tta_flips = [dict(type='RandomFlip', prob=0.0, direction='horizontal'),
             dict(type='RandomFlip', prob=1.0, direction='horizontal'),
             dict(type='RandomFlip', prob=1.0, direction='vertical')]
tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='TestTimeAug', transforms=[
        tta_flips, [dict(type='LoadAnnotations')],
        [dict(type='PackSegInputs', meta_keys=meta_keys)]]),
]

train_dataloader = dict(
    batch_size=4,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='GroupIoUMetric', report_by=('species', 'dataset'))
test_evaluator = val_evaluator
