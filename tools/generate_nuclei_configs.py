"""Write the typed-nuclei configs (configs/nuclei/*.py: every file there) from
one table: model x training regime. ``--check`` fails if a file differs, is
missing, or is a config in configs/nuclei/ the table does not make.

    python tools/generate_nuclei_configs.py [--check]

Two model routes (docs/nuclei.md):

- route a, ``contour_<family>_<regime>.py``: a stock MMSeg model whose decode
  head predicts the leaves of the ``'nucleus_contour'`` tree (background, 13
  nucleus types, an instance boundary), trained with the hierarchical loss in
  each sample's own label set; nuclei and types from ``TypedContourWatershed``
  (families ``deeplabv3plus``, ``unet``);
- route b, ``stardist_r50_<regime>.py``: the seeds' model, ResNet-50 and a
  StarDist head (object probability, 32 rays, the nucleus tree's 14 leaves),
  star targets after augmentation, nuclei by stardist's polygon NMS.

Regimes, for datasets A, B among PanNuke, CoNSeP and MoNuSAC (all at one
um/px, see configs/_base_/datasets/nuclei_common.py):

- ``<model>_<A>.py``: A alone;
- ``<model>_<A>-then-<B>.py``: B, starting from the last checkpoint of
  ``<model>_<A>.py`` with every layer (the head included) and no frozen
  module;
- ``<model>_<A>-and-<B>.py``: A and B jointly, each batch half A, half B
  (``CrossSpeciesMixedSampler(mix_by='dataset')``);
- ``<model>_pannuke-and-nuinsseg-mouse.py``: PanNuke (human, typed) and
  NuInsSeg's mouse images (label set {background, nucleus}) jointly, half of
  each batch each: the two datasets are the two species, so mixing by
  dataset mixes by species.

Every config tests on every typed dataset's test split (seen and unseen),
each in its own labels, defines ``unseen_test`` (Lizard without the tiles
whose origin a training set holds) and keeps the checkpoint that scores best
on the validation split (``default_hooks.checkpoint.save_best``: the mPQ of
the dataset it trains on, the first one for a joint config). The generated
files are ordinary MMSeg configs: read, copy and edit them like any other;
change this table to change them.
"""
import itertools
import os.path as osp
import textwrap
from typing import NamedTuple

from _generated import sync_configs

ROOT = osp.join(osp.dirname(osp.abspath(__file__)), '..', 'configs', 'nuclei')


class Dataset(NamedTuple):
    title: str
    base: str  # its loaders' variables in nuclei_common.py: <base>_train, _val, _test
    group: str  # the manifest's `dataset` value (metric keys, sampler groups)
    origin: str  # the manifest's `origin` value of its images


DATASETS = {
    'pannuke': Dataset('PanNuke', 'pannuke', 'pannuke', 'pannuke'),
    'consep': Dataset('CoNSeP', 'consep', 'consep', 'consep'),
    'monusac': Dataset('MoNuSAC', 'monusac', 'monusac', 'tcga'),
    # Its mouse images only ({background, nucleus}); trained jointly with a typed dataset.
    'nuinsseg-mouse': Dataset('NuInsSeg mouse', 'nuinsseg_mouse', 'nuinsseg', 'nuinsseg'),
}
#: The typed datasets: every regime among them, every config tested on each.
TYPED = ('pannuke', 'consep', 'monusac')
#: Joint regimes beyond the typed pairs.
JOINT_EXTRA = (('pannuke', 'nuinsseg-mouse'),)


class Model(NamedTuple):
    route: str  # 'a' (typed contour head) or 'b' (StarDist)
    title: str
    base: str  # route a: the stock MMSeg model config
    extra: str  # route a: extra model lines
    batch: int
    gpus: int


# file prefix: the model
MODELS = {
    'contour_deeplabv3plus': Model(
        'a', 'DeepLabV3+ R-50-D8', 'mmseg::_base_/models/deeplabv3plus_r50-d8.py', '', 4, 4),
    'contour_unet': Model(
        'a', 'UNet-S5-D16 (FCN head)', 'mmseg::_base_/models/fcn_unet_s5-d16.py',
        # whole tiles (MMSeg's UNet configs slide); inputs padded to a multiple of 16
        "\n    test_cfg=dict(mode='whole'),", 4, 4),
    'stardist_r50': Model('b', 'StarDist R-50', '', '', 8, 1),
}
#: Leaves of 'nucleus_contour': background, 13 nucleus types, boundary.
NUM_CLASSES = 15
#: The validation score that chooses the kept checkpoint (of the dataset trained on).
BEST = 'mPQ'


def loss(scale: float) -> str:
    """The seeds' class loss on the contour tree: hierarchical CE + focal Tversky
    (the StarDist authors' alpha 0.7 on false negatives: our beta; docs/losses.md)."""
    return (f"[dict(type='HierarchicalFocalDiceLoss', label_tree='nucleus_contour',\n"
            f"                       gamma=0.0, lambda_focal={round(1.0 * scale, 4)}, "
            f"lambda_dice={round(1.0 * scale, 4)},\n"
            f"                       region=dict(type='tversky', alpha=0.3, beta=0.7, "
            f"gamma=1.0))]")


def regimes():
    """``(name, kind, datasets)`` of every training regime."""
    out = [(a, 'alone', (a,)) for a in TYPED]
    out += [(f'{a}-then-{b}', 'then', (a, b)) for a, b in itertools.permutations(TYPED, 2)]
    out += [(f'{a}-and-{b}', 'and', (a, b))
            for a, b in list(itertools.combinations(TYPED, 2)) + list(JOINT_EXTRA)]
    return out


def concat(parts) -> str:
    """A ConcatDataset of base datasets (their label sets differ)."""
    if any(p.startswith('dict(') for p in parts):  # one a line
        items = ''.join(f'\n        {p},' for p in parts)[:-1]
    else:
        items = ', '.join(f'{{{{_base_.{p}}}}}' for p in parts)
    return (f"dict(\n    type='ConcatDataset', ignore_keys={{{{_base_.concat_ignore_keys}}}},"
            f"\n    datasets=[{items}])")


def comment(text: str) -> str:
    """``text`` as ``#`` lines of at most 90 characters."""
    return textwrap.fill(text, 88, initial_indent='# ', subsequent_indent='# ')


def what(kind: str, names) -> str:
    titles = [DATASETS[n].title for n in names]
    return (f'{titles[0]} alone' if kind == 'alone' else
            f'{titles[0]} then {titles[1]} (every layer kept, the head included)'
            if kind == 'then' else f'{titles[0]} and {titles[1]} jointly (half of each batch each)')


def loaders(model: Model, kind: str, names) -> str:
    """The training and validation loaders (route b: its own training pipeline)."""
    def train(n):
        base = f'{DATASETS[n].base}_train'
        return f'dict(_base_.{base}, pipeline=train_pipeline)' if model.route == 'b' else base

    batch = model.batch
    if kind == 'and':
        a, b = names
        groups = [DATASETS[n].group for n in names]
        note = ''
        if 'nuinsseg-mouse' in names:
            note = comment(
                "Mixed by dataset, which here is mixing by species: NuInsSeg keeps its mouse "
                "images only and every PanNuke image is human, so each batch holds as many "
                "mouse as human tiles (the sampler mixes one metainfo key).")
        text = f'''train_dataloader = dict(
    batch_size={batch},
    sampler=dict(_delete_=True, type='CrossSpeciesMixedSampler', batch_size={batch},
                 mix_by='dataset', ratios=dict({groups[0]}=1, {groups[1]}=1)),
    dataset={concat([train(a), train(b)]).replace(chr(10), chr(10) + '    ')})
val_dataloader = dict(dataset={concat([f'{DATASETS[a].base}_val', f'{DATASETS[b].base}_val'])})'''
        return f'{note}\n{text}' if note else text
    target = DATASETS[names[-1]].base
    dataset = train(names[-1])
    dataset = dataset if dataset.startswith('dict(') else f'{{{{_base_.{dataset}}}}}'
    return (f"train_dataloader = dict(batch_size={batch}, dataset={dataset})"
            f"\nval_dataloader = dict(dataset={{{{_base_.{target}_val}}}})")


def stage_hook(prefix: str, kind: str, names) -> str:
    if kind != 'then':
        return ''
    stage1 = f'{prefix}_{names[0]}'
    return f"""
{comment(f'Stage 1: the newest complete checkpoint in work_dirs/{stage1} (its last, not '
         'its best: docs/nuclei.md), every layer (or --cfg-options load_from=PATH); nothing '
         'frozen.')}
custom_hooks = [dict(type='InitFromStageHook',
                     work_dir='work_dirs/{stage1}',
                     config='configs/nuclei/{stage1}.py')]"""


def best_checkpoint(kind: str, names) -> str:
    trained = names[-1] if kind == 'then' else names[0]
    key = f'dataset/{DATASETS[trained].group}/{BEST}'
    return f"""
{comment(f"Checkpoint chosen on validation: best_*.pth holds the iteration of the best "
         f"{DATASETS[trained].title} {BEST} on its validation split (the paper stopped on "
         "validation loss; docs/nuclei.md).")}
default_hooks = dict(checkpoint=dict(save_best='{key}', rule='greater'))"""


def tests(kind: str, names) -> str:
    unseen = ', '.join(DATASETS[n].title for n in TYPED if n not in names)
    origins = sorted({DATASETS[n].origin for n in names})
    text = comment(f"Test: every typed dataset's test split, each in its own labels, seen and "
                   f'unseen ({unseen}). An unseen dataset holding images of a training set '
                   'leaves them out by origin: `unseen_test` (Lizard re-annotates PanNuke and '
                   'CoNSeP images) joins the list once data/lizard is converted.')
    return f'''{text}
train_origins = {origins!r}
unseen_test = dict(type='LizardDataset', data_root={{{{_base_.lizard_root}}}}, label_offset=19,
                   filters={{'mpp': {{{{_base_.mpp_filter}}}}, '!origin': train_origins}},
                   pipeline={{{{_base_.test_pipeline}}}})
test_dataloader = dict(dataset={concat([f'{DATASETS[n].base}_test' for n in TYPED])})
'''


def render_contour(prefix: str, kind: str, names) -> str:
    """Route a: a typed contour head on a stock MMSeg model."""
    model = MODELS[prefix]
    family = prefix.split('_', 1)[1]
    header = comment(f'Typed nuclei, route a (typed contour head): {model.title}, trained on '
                     f'{what(kind, names)}; {model.gpus} GPUs x {model.batch} images '
                     f'({model.gpus}xb{model.batch}), 20k iterations, all data at one um/px '
                     '(docs/nuclei.md).')
    heads = (f"    decode_head=dict(\n        num_classes=num_classes,\n"
             f"        loss_decode={loss(1.0)}),\n"
             f"    auxiliary_head=dict(\n        num_classes=num_classes,\n"
             f"        loss_decode={loss(0.4)}),")  # MMSeg's auxiliary heads weigh 0.4
    init = ('\n    # Published initialisation (tools/train.py --no-pretrained drops it).'
            if family == 'deeplabv3plus' else '\n    # From scratch (as MMSeg\'s UNet configs).')
    preprocessor = "data_preprocessor=dict(size={{_base_.crop_size}}"
    preprocessor += ', test_cfg=dict(size_divisor=16)),' if family == 'unet' else '),'
    return f'''\
# Generated by tools/generate_nuclei_configs.py: edit the table there, not this file.
{header}
_base_ = [
    '{model.base}',
    '../_base_/datasets/nuclei_common.py',
    '../_base_/schedules/sgd_cosine_20k.py',
]
num_classes = {NUM_CLASSES}  # the leaves of label_tree='nucleus_contour'
model = dict(
    type='CrossSpeciesEncoderDecoder',{init}
    {preprocessor}{model.extra}
    # Nuclei and per-nucleus type probabilities for the metrics (and --tta).
    instance_postprocess=dict(type='TypedContourWatershed', min_size=10),
{heads})
{loaders(model, kind, names)}{stage_hook(prefix, kind, names)}{best_checkpoint(kind, names)}
{tests(kind, names)}'''


def render_stardist(prefix: str, kind: str, names) -> str:
    """Route b: the seeds' StarDist model (configs/nuclei/stardist_r50_pannuke.py as it was
    written by hand, for every regime)."""
    model = MODELS[prefix]
    header = comment(
        f'Typed nuclei, route b (the seeds\' model): {model.title}, trained on '
        f'{what(kind, names)}. ResNet-50 (V1c, stride 32, no dilation) + StarDistHead (a light '
        'U-Net decoder to stride 2, 32 rays, the nucleus tree\'s 14 leaves), trained with BCE '
        'on the object probability, masked L1 on the distances and hierarchical CE + Tversky '
        'on the leaves, weighted (1, 0.2, 1) as StarDist\'s CoNIC code; nuclei by stardist\'s '
        'polygon NMS (docs/nuclei.md, "Route b: StarDist"). Datasets, um/px and loaders as '
        'route a (nuclei_common.py); the training pipeline computes the star targets instead '
        f'of the typed contour. {model.gpus} GPU x {model.batch} images, 20k iterations, all '
        'data at one um/px.')
    return f'''\
# Generated by tools/generate_nuclei_configs.py: edit the table there, not this file.
{header}
_base_ = [
    '../_base_/datasets/nuclei_common.py',
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
        bgr_to_rgb=True, pad_val=0, seg_pad_val=255, size={{{{_base_.crop_size}}}},
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
# colour jitter may come after them. The training datasets of nuclei_common.py with this
# pipeline instead of route a's.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='LoadInstanceMap'),
    dict(type='RandomCrop', crop_size={{{{_base_.crop_size}}}}),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomFlip', prob=0.5, direction='vertical'),
    dict(type='RandomRotFlip', rotate_prob=0.0, flip_prob=0.5),  # + transposes: all 8 views
    dict(type='StarDistTargets', n_rays=n_rays),
    dict(type='PhotoMetricDistortion', brightness_delta=16, contrast_range=(0.8, 1.2),
         saturation_range=(0.8, 1.2), hue_delta=8),
    dict(type='PackStarDistInputs', meta_keys={{{{_base_.meta_keys}}}}),
]
{loaders(model, kind, names)}{stage_hook(prefix, kind, names)}{best_checkpoint(kind, names)}
{tests(kind, names)}\
# --tta: the tile and its two flips; StarDistTTAModel undoes each flip on the maps and the
# rays, averages the views and decodes the nuclei once (the base's tta_pipeline).
tta_model = dict(type='StarDistTTAModel')
# Typed nuclei (bPQ and mPQ averaged per tissue as PanNuke-metrics does, mPQ+, F1d,
# per-class PQ/F1), each dataset in its own label set; and the pixels of the nucleus
# class map (leaves mapped to each dataset's labels).
val_evaluator = [
    dict(type='GroupInstanceMetric', types=True, label_tree=label_tree,
         report_by=('dataset',), mpp={{{{_base_.mpp}}}}),
    dict(type='GroupIoUMetric', report_by=('dataset',), label_tree=label_tree),
]
test_evaluator = val_evaluator

# StarDist's Adam learning rate (3e-4), with the schedule's warm-up and poly decay.
optim_wrapper = dict(optimizer=dict(lr=3e-4, weight_decay=1e-4))
'''


def all_configs():
    """``{path: text}`` of every config in configs/nuclei/."""
    out = {}
    for prefix, model in MODELS.items():
        render = render_contour if model.route == 'a' else render_stardist
        for regime, kind, names in regimes():
            out[osp.join(ROOT, f'{prefix}_{regime}.py')] = render(prefix, kind, names)
    return out


def main():
    sync_configs(__doc__, 'tools/generate_nuclei_configs.py', all_configs(),
                 osp.join(ROOT, '*.py'))


if __name__ == '__main__':
    main()
