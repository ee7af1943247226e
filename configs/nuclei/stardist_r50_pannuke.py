# Typed nuclei, route b (the seeds' model): StarDist on PanNuke alone. ResNet-50 (V1c,
# stride 32, no dilation) + StarDistHead (a light U-Net decoder to stride 2, 32 rays, the
# nucleus tree's 14 leaves), trained with BCE on the object probability, masked L1 on the
# distances and hierarchical CE + Tversky on the leaves, weighted (1, 0.2, 1) as
# StarDist's CoNIC code; nuclei by stardist's polygon NMS (docs/nuclei.md, "Route b:
# StarDist"). Datasets, um/px, pipelines and loaders as route a (nuclei_common.py); the
# training pipeline computes the star targets instead of the typed contour.
# 1 GPU x 8 images, 20k iterations, all data at one um/px.
_base_ = [
    '../_base_/datasets/nuclei_pannuke.py',
    '../_base_/schedules/adamw_warmup_20k.py',
]
n_rays = 32
num_leaves = 14  # the leaves of label_tree='nucleus'
label_tree = 'nucleus'
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    type='StarDistSegmentor',
    # Published initialisation (tools/train.py --no-pretrained drops it).
    pretrained='open-mmlab://resnet50_v1c',
    data_preprocessor=dict(
        type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True, pad_val=0, seg_pad_val=255, size={{_base_.crop_size}},
        test_cfg=dict(size_divisor=32)),
    backbone=dict(
        type='ResNetV1c', depth=50, num_stages=4, out_indices=(0, 1, 2, 3),
        dilations=(1, 1, 1, 1), strides=(1, 2, 2, 2), norm_cfg=norm_cfg, norm_eval=False,
        style='pytorch', contract_dilation=True),
    decode_head=dict(
        type='StarDistHead', in_channels=[256, 512, 1024, 2048], in_index=[0, 1, 2, 3],
        decoder_channels=(256, 128, 64, 64), extra_upsamples=1, channels=128,
        n_rays=n_rays, num_classes=num_leaves, dropout_ratio=0.0, norm_cfg=norm_cfg,
        align_corners=False, loss_weights=(1.0, 0.2, 1.0), background_reg=1e-4,
        # StarDist's compound_tversky_cce as docs/losses.md maps it (its alpha=0.7 on
        # false negatives is our beta=0.7; Tversky exponent 1 as its default and route a;
        # region gamma=0.75 makes it Abraham and Khan's focal Tversky).
        loss_decode=dict(type='HierarchicalFocalDiceLoss', label_tree=label_tree, gamma=0.0,
                         lambda_focal=1.0, lambda_dice=1.0,
                         region=dict(type='tversky', alpha=0.3, beta=0.7, gamma=1.0))),
    train_cfg=dict(),
    # StarDist's thresholds; candidates on the head's stride-2 grid (StarDist's grid=(2, 2)).
    test_cfg=dict(mode='whole', prob_thresh=0.5, nms_thresh=0.4, border=2,
                  candidate_stride=2))

# Star targets after every geometric transform (from the augmented instance map); the
# colour jitter may come after them.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='LoadInstanceMap'),
    dict(type='RandomCrop', crop_size={{_base_.crop_size}}),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomFlip', prob=0.5, direction='vertical'),
    dict(type='RandomRotFlip', rotate_prob=0.0, flip_prob=0.5),  # + transposes: all 8 views
    dict(type='StarDistTargets', n_rays=n_rays),
    dict(type='PhotoMetricDistortion', brightness_delta=16, contrast_range=(0.8, 1.2),
         saturation_range=(0.8, 1.2), hue_delta=8),
    dict(type='PackStarDistInputs', meta_keys={{_base_.meta_keys}}),
]
train_dataloader = dict(batch_size=8, dataset=dict(pipeline=train_pipeline))
# Test: every dataset's test split, each in its own labels, seen and unseen (CoNSeP,
# MoNuSAC), as route a's configs (Lizard joins, leaving out PanNuke's and CoNSeP's
# images by origin, once data/lizard is converted: see contour_*_pannuke.py).
test_dataloader = dict(dataset=dict(
    _delete_=True, type='ConcatDataset', ignore_keys={{_base_.concat_ignore_keys}},
    datasets=[{{_base_.pannuke_test}}, {{_base_.consep_test}}, {{_base_.monusac_test}}]))
# --tta: the tile and its two flips; StarDistTTAModel undoes each flip on the maps and the
# rays, averages the views and decodes the nuclei once (the base's tta_pipeline).
tta_model = dict(type='StarDistTTAModel')
# Typed nuclei (bPQ and mPQ averaged per tissue as PanNuke-metrics does, mPQ+, F1d,
# per-class PQ/F1), each dataset in its own label set; and the pixels of the nucleus
# class map (leaves mapped to each dataset's labels).
val_evaluator = [
    dict(type='GroupInstanceMetric', types=True, label_tree=label_tree,
         report_by=('dataset',), mpp={{_base_.mpp}}),
    dict(type='GroupIoUMetric', report_by=('dataset',), label_tree=label_tree),
]
test_evaluator = val_evaluator

# StarDist's Adam learning rate (3e-4), with the schedule's warm-up and poly decay.
optim_wrapper = dict(optimizer=dict(lr=3e-4, weight_decay=1e-4))
