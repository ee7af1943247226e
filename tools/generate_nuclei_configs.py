"""Write the typed-nuclei configs of route a (configs/nuclei/contour_*.py) from
one table: model family x training regime. ``--check`` fails if a file
differs, is missing, or is a ``contour_*.py`` the table does not make.

    python tools/generate_nuclei_configs.py [--check]

Route a (docs/nuclei.md): a stock MMSeg model whose decode head predicts the
leaves of the ``'nucleus_contour'`` tree (background, 13 nucleus types, an
instance boundary), trained with the hierarchical loss in each sample's own
label set; nuclei and types from ``TypedContourWatershed``. Regimes, for
datasets A, B among PanNuke, CoNSeP and MoNuSAC (all at one um/px, see
configs/_base_/datasets/nuclei_common.py):

- ``contour_<family>_<A>.py``: A alone;
- ``contour_<family>_<A>-then-<B>.py``: B, starting from the last checkpoint
  of ``contour_<family>_<A>.py`` with every layer (the head included) and no
  frozen module;
- ``contour_<family>_<A>-and-<B>.py``: A and B jointly, each batch half A,
  half B (``CrossSpeciesMixedSampler(mix_by='dataset')``).

Every config tests on every dataset's test split (seen and unseen), each in
its own labels, and defines ``unseen_test``: Lizard without the tiles whose
origin a training set holds. The generated files are ordinary MMSeg configs:
read, copy and edit them like any other; change this table to change them.
"""
import itertools
import os.path as osp
import textwrap

from _generated import sync_configs

ROOT = osp.join(osp.dirname(osp.abspath(__file__)), '..', 'configs', 'nuclei')
PREFIX = 'contour_'

# family: (title, stock model config, extra model lines)
FAMILIES = {
    'deeplabv3plus': ('DeepLabV3+ R-50-D8', 'mmseg::_base_/models/deeplabv3plus_r50-d8.py', ''),
    'unet': ('UNet-S5-D16 (FCN head)', 'mmseg::_base_/models/fcn_unet_s5-d16.py',
             # whole tiles (MMSeg's UNet configs slide); inputs padded to a multiple of 16
             "\n    test_cfg=dict(mode='whole'),"),
}
# dataset: (title, manifest origin of its images)
DATASETS = {'pannuke': ('PanNuke', 'pannuke'), 'consep': ('CoNSeP', 'consep'),
            'monusac': ('MoNuSAC', 'tcga')}
#: Leaves of 'nucleus_contour': background, 13 nucleus types, boundary.
NUM_CLASSES = 15
BATCH = 4


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
    out = [(a, 'alone', (a,)) for a in DATASETS]
    out += [(f'{a}-then-{b}', 'then', (a, b)) for a, b in itertools.permutations(DATASETS, 2)]
    out += [(f'{a}-and-{b}', 'and', (a, b)) for a, b in itertools.combinations(DATASETS, 2)]
    return out


def concat(parts) -> str:
    """A ConcatDataset of base datasets (their label sets differ)."""
    items = ', '.join(f'{{{{_base_.{p}}}}}' for p in parts)
    return (f"dict(\n    type='ConcatDataset', ignore_keys={{{{_base_.concat_ignore_keys}}}},"
            f"\n    datasets=[{items}])")


def comment(text: str) -> str:
    """``text`` as ``#`` lines of at most 90 characters."""
    return textwrap.fill(text, 88, initial_indent='# ', subsequent_indent='# ')


def render(family: str, regime: str, kind: str, names) -> str:
    title, model_base, extra = FAMILIES[family]
    titles = [DATASETS[n][0] for n in names]
    what = (f'{titles[0]} alone' if kind == 'alone' else
            f'{titles[0]} then {titles[1]} (every layer kept, the head included)'
            if kind == 'then' else f'{titles[0]} and {titles[1]} jointly (half of each batch each)')
    header = comment(f'Typed nuclei, route a (typed contour head): {title}, trained on {what}; '
                     f'4 GPUs x {BATCH} images (4xb{BATCH}), 20k iterations, all data at one '
                     'um/px (docs/nuclei.md).')
    heads = (f"    decode_head=dict(\n        num_classes=num_classes,\n"
             f"        loss_decode={loss(1.0)}),\n"
             f"    auxiliary_head=dict(\n        num_classes=num_classes,\n"
             f"        loss_decode={loss(0.4)}),")  # MMSeg's auxiliary heads weigh 0.4
    init = ('\n    # Published initialisation (tools/train.py --no-pretrained drops it).'
            if family == 'deeplabv3plus' else '\n    # From scratch (as MMSeg\'s UNet configs).')
    preprocessor = "data_preprocessor=dict(size={{_base_.crop_size}}"
    preprocessor += ', test_cfg=dict(size_divisor=16)),' if family == 'unet' else '),'
    if kind == 'and':
        a, b = names
        loaders = f'''train_dataloader = dict(
    batch_size={BATCH},
    sampler=dict(_delete_=True, type='CrossSpeciesMixedSampler', batch_size={BATCH},
                 mix_by='dataset', ratios=dict({a}=1, {b}=1)),
    dataset={concat([f'{a}_train', f'{b}_train']).replace(chr(10), chr(10) + '    ')})
val_dataloader = dict(dataset={concat([f'{a}_val', f'{b}_val'])})'''
    else:
        target = names[-1]
        loaders = (f"train_dataloader = dict(batch_size={BATCH}, "
                   f"dataset={{{{_base_.{target}_train}}}})"
                   f"\nval_dataloader = dict(dataset={{{{_base_.{target}_val}}}})")
    stage1 = f'{PREFIX}{family}_{names[0]}'
    hook = f"""
{comment(f'Stage 1: the newest complete checkpoint in work_dirs/{stage1}, every layer '
         '(or --cfg-options load_from=PATH); nothing frozen.')}
custom_hooks = [dict(type='InitFromStageHook',
                     work_dir='work_dirs/{stage1}',
                     config='configs/nuclei/{stage1}.py')]""" if kind == 'then' else ''
    unseen = ', '.join(DATASETS[n][0] for n in DATASETS if n not in names)
    origins = sorted({DATASETS[n][1] for n in names})
    tests = comment(f"Test: every dataset's test split, each in its own labels, seen and unseen "
                    f'({unseen}). An unseen dataset holding images of a training set leaves '
                    'them out by origin: `unseen_test` (Lizard re-annotates PanNuke and CoNSeP '
                    'images) joins the list once data/lizard is converted.')
    return f'''\
# Generated by tools/generate_nuclei_configs.py: edit the table there, not this file.
{header}
_base_ = [
    '{model_base}',
    '../_base_/datasets/nuclei_common.py',
    '../_base_/schedules/sgd_cosine_20k.py',
]
num_classes = {NUM_CLASSES}  # the leaves of label_tree='nucleus_contour'
model = dict(
    type='CrossSpeciesEncoderDecoder',{init}
    {preprocessor}{extra}
    # Nuclei and per-nucleus type probabilities for the metrics (and --tta).
    instance_postprocess=dict(type='TypedContourWatershed', min_size=10),
{heads})
{loaders}{hook}
{tests}
train_origins = {origins!r}
unseen_test = dict(type='LizardDataset', data_root={{{{_base_.lizard_root}}}}, label_offset=19,
                   filters={{'mpp': {{{{_base_.mpp_filter}}}}, '!origin': train_origins}},
                   pipeline={{{{_base_.test_pipeline}}}})
test_dataloader = dict(dataset={concat([f'{n}_test' for n in DATASETS])})
'''


def all_configs():
    """``{path: text}`` of every route-a config."""
    return {osp.join(ROOT, f'{PREFIX}{family}_{regime}.py'): render(family, regime, kind, names)
            for family in FAMILIES for regime, kind, names in regimes()}


def main():
    sync_configs(__doc__, 'tools/generate_nuclei_configs.py', all_configs(),
                 osp.join(ROOT, f'{PREFIX}*.py'))


if __name__ == '__main__':
    main()
