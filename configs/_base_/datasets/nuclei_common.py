# Typed nuclei (issue 26, route a: a typed contour head on any stock MMSeg model;
# docs/nuclei.md): PanNuke, CoNSeP and MoNuSAC for training and testing, Lizard as
# an unseen test set. Every dataset is converted at one um/px (`mpp`), e.g.
#   python tools/dataset_converters/pannuke.py RAW/PanNuke data/pannuke --mpp 0.5 --tile 128
#   python tools/dataset_converters/consep.py RAW/CoNSeP data/consep --mpp 0.5
#   python tools/dataset_converters/monusac.py RAW/MoNuSAC data/monusac --mpp 0.5
#   python tools/dataset_converters/lizard.py RAW/Lizard data/lizard   (0.5 um/px as is)
#   python tools/dataset_converters/nuinsseg.py RAW/NuInsSeg data/nuinsseg_mpp0.5 --mpp 0.5
# and every dataset here keeps only the manifest rows at that um/px (filter `mpp`):
# a folder converted at another um/px stops the run naming the filter. `mpp` is a
# variable of this file: change it here (the filters and the metric read it when
# this file loads, so a child config cannot change it alone).
#
# Labels: masks hold each dataset's own type ids; `label_offset` puts them in the
# node ids of the nucleus tree (nucleus_label_offset('<dataset>'): pannuke 0,
# consep 6, monusac 14, lizard 19, nuinsseg 26). Training: TypedContourTarget, after the
# geometric augmentations, moves them into the tree 'nucleus_contour' (the
# nucleus tree plus a boundary leaf and label) and writes the boundary of each
# nucleus (the loss: HierarchicalFocalDiceLoss(label_tree='nucleus_contour')).
# Validation and test: nuclei and types from the model's TypedContourWatershed,
# each dataset scored in its own label set of the nucleus tree
# (GroupInstanceMetric(types=True, label_tree='nucleus'): PQ, bPQ, mPQ, mPQ+, F1...).
#
# Configs build their loaders from the datasets below (`<name>_train`, `_val`,
# `_test`); nuclei_<name>.py trains, validates and tests on one dataset alone.
_base_ = ['../default_runtime.py']
custom_imports = dict(imports=['crossspec_mmseg'], allow_failed_imports=False)

mpp = 0.5
train_mpp = mpp  # tools/infer_slide.py reads slides at it
mpp_filter = str(mpp)  # as the converters write the manifest's mpp column
crop_size = (128, 128)  # 64 um at 0.5 um/px: a PanNuke patch (256 px at 0.25)
contour_width = 1  # boundary width in px at `mpp` (nuclei are ~10-20 px across at 0.5)
# PackSegInputs' keys plus the manifest columns the sampler and the metrics read.
meta_keys = ('img_path', 'seg_map_path', 'ori_shape', 'img_shape', 'pad_shape',
             'scale_factor', 'flip', 'flip_direction', 'reduce_zero_label',
             'dataset', 'species', 'organ', 'slide', 'case', 'split', 'fold',
             'mpp', 'origin', 'patient')

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='LoadInstanceMap'),
    # Geometric augmentations (they move the instance map with the mask)...
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomFlip', prob=0.5, direction='vertical'),
    dict(type='RandomRotFlip', rotate_prob=0.0, flip_prob=0.5),  # + transposes: all 8 views
    dict(type='PhotoMetricDistortion', brightness_delta=16, contrast_range=(0.8, 1.2),
         saturation_range=(0.8, 1.2), hue_delta=8),
    # ...then the typed contour target, from the augmented instance and type maps.
    dict(type='TypedContourTarget', width=contour_width, label_tree='nucleus'),
    dict(type='PackSegInputsWithInstances', meta_keys=meta_keys),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='LoadInstanceMap'),
    dict(type='PackSegInputsWithInstances', meta_keys=meta_keys),
]
# tools/test.py --tta: the mean of the softmax over the tile and its two flips, at the
# training um/px; ProbabilityTTAModel finds the nuclei once, in the merged probabilities.
tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='TestTimeAug', transforms=[
        [dict(type='RandomFlip', prob=0.0, direction='horizontal'),
         dict(type='RandomFlip', prob=1.0, direction='horizontal'),
         dict(type='RandomFlip', prob=1.0, direction='vertical')],
        [dict(type='LoadAnnotations')], [dict(type='LoadInstanceMap')],
        [dict(type='PackSegInputsWithInstances', meta_keys=meta_keys)]]),
]
tta_model = dict(type='ProbabilityTTAModel')

# The datasets (data roots relative to the working directory, as in every config).
pannuke_root = 'data/pannuke'
consep_root = 'data/consep'
monusac_root = 'data/monusac'
lizard_root = 'data/lizard'
# NuInsSeg at the one um/px, beside data/nuinsseg (its ~0.25 um/px conversion, which the
# kidney configs read): converted with --mpp 0.5 into data/nuinsseg_mpp0.5 (see above).
nuinsseg_root = f'data/nuinsseg_mpp{mpp}'
# PanNuke: the first of its three rotations (train fold1, validate fold2, test fold3).
pannuke = dict(type='PanNukeDataset', data_root=pannuke_root, label_offset=0)
pannuke_train = dict(pannuke, filters=dict(fold='fold1', mpp=mpp_filter), pipeline=train_pipeline)
pannuke_val = dict(pannuke, filters=dict(fold='fold2', mpp=mpp_filter), pipeline=test_pipeline)
pannuke_test = dict(pannuke, filters=dict(fold='fold3', mpp=mpp_filter), pipeline=test_pipeline)
# CoNSeP: Train/ (less the converter's validation images) and Test/.
consep = dict(type='CoNSePDataset', data_root=consep_root, label_offset=6)
consep_train = dict(consep, filters=dict(split='train', mpp=mpp_filter), pipeline=train_pipeline)
consep_val = dict(consep, filters=dict(split='val', mpp=mpp_filter), pipeline=test_pipeline)
consep_test = dict(consep, filters=dict(split='test', mpp=mpp_filter), pipeline=test_pipeline)
# MoNuSAC: training patients (less the converter's validation patients) and the test set.
monusac = dict(type='MoNuSACDataset', data_root=monusac_root, label_offset=14)
monusac_train = dict(monusac, filters=dict(split='train', mpp=mpp_filter),
                     pipeline=train_pipeline)
monusac_val = dict(monusac, filters=dict(split='val', mpp=mpp_filter), pipeline=test_pipeline)
monusac_test = dict(monusac, filters=dict(split='test', mpp=mpp_filter), pipeline=test_pipeline)
# NuInsSeg's mouse images ({background, nucleus}: label set 'nuinsseg'), to train beside a
# typed dataset (configs/nuclei/*_pannuke-and-nuinsseg-mouse.py). NuInsSeg has no test
# split: its official folds fold0..fold3 train, fold4 validates.
nuinsseg_mouse = dict(type='NuInsSegDataset', data_root=nuinsseg_root, label_offset=26)
nuinsseg_mouse_train = dict(
    nuinsseg_mouse, filters=dict(species='mouse', fold=['fold0', 'fold1', 'fold2', 'fold3'],
                                 mpp=mpp_filter), pipeline=train_pipeline)
nuinsseg_mouse_val = dict(
    nuinsseg_mouse, filters=dict(species='mouse', fold='fold4', mpp=mpp_filter),
    pipeline=test_pipeline)
# Lizard, an unseen test set (all folds). It re-annotates CoNSeP, PanNuke, CRAG,
# DigestPath and GlaS images: leave out the origins a training set holds, e.g.
# dict(lizard_test, filters={'mpp': mpp_filter, '!origin': ['pannuke', 'consep']})
# (each generated config defines its own `unseen_test` so).
lizard = dict(type='LizardDataset', data_root=lizard_root, label_offset=19)
lizard_test = dict(lizard, filters=dict(mpp=mpp_filter), pipeline=test_pipeline)
# Datasets with different label sets in one ConcatDataset.
concat_ignore_keys = ['classes', 'palette', 'label_map']

train_dataloader = dict(
    batch_size=4,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False))
test_dataloader = val_dataloader
val_evaluator = dict(type='GroupInstanceMetric', types=True, label_tree='nucleus',
                     report_by=('dataset',), mpp=mpp)
test_evaluator = val_evaluator
