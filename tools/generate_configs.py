"""Write the config zoo (configs/crossspec/) from one table, so the model x
regime grid stays consistent. ``--check`` fails if a file differs.

    python tools/generate_configs.py [--check]

The generated files are ordinary MMSeg configs: read, copy and edit them like
any other; change this table (not the files) to change the zoo.
"""
import os.path as osp

from _generated import sync_configs

ROOT = osp.join(osp.dirname(osp.abspath(__file__)), '..', 'configs', 'crossspec')

# family: (title, base config, has auxiliary head, optimiser key)
FAMILIES = {
    'pspnet': ('PSPNet R-50-D8', 'mmseg::_base_/models/pspnet_r50-d8.py', True, 'sgd'),
    'deeplabv3plus': ('DeepLabV3+ R-50-D8', 'mmseg::_base_/models/deeplabv3plus_r50-d8.py',
                      True, 'sgd'),
    'segnext': ('SegNeXt MSCAN-S', '../_base_/models/segnext_mscan-s.py', False, 'adamw_segnext'),
    'mobilenetv3': ('MobileNetV3-large LR-ASPP', '../_base_/models/lraspp_m-v3-d8.py', False,
                    'adamw_mobilenet'),
    'unet': ('UNet-S5-D16 (FCN head)', 'mmseg::_base_/models/fcn_unet_s5-d16.py', True, 'sgd'),
    'deeplabv3plus-mobilenetv2': ('DeepLabV3+ MobileNetV2-D8',
                                  '../_base_/models/deeplabv3plus_m-v2-d8.py', True, 'sgd'),
}
ALL_REGIMES = ('separate', 'homologous', 'analogous', 'combined', 'pretrain', 'finetune')
JOINT = ('homologous', 'analogous', 'combined')
NUCLEI_ZOO = {f: ALL_REGIMES for f in ('pspnet', 'deeplabv3plus', 'segnext', 'mobilenetv3')}
NUCLEI_ZOO.update({'unet': ('separate', 'homologous', 'analogous', 'combined'),
                   'deeplabv3plus-mobilenetv2': ('separate', 'combined')})

# task: file prefix, regime base, description, classes, crop, families x regimes,
# joint-training species weights, whether the config sets the sampler, loss kind.
TASKS = {
    'nuclei': dict(prefix='', base='../_base_/regimes/nuinsseg_kidney_{regime}.py',
                   title='human kidney nuclei (NuInsSeg)', classes=2, crop=512, zoo=NUCLEI_ZOO,
                   weights='dict(human=2.5, mouse=1.0),  # NuInsSeg kidney, capped',
                   sampler=True, loss='flat', batch=4),
    'nuclei-contour': dict(prefix='nuclei-contour_',
                           base='../_base_/regimes/nuinsseg_kidney_contour_{regime}.py',
                           title='human kidney nuclei, interior + boundary (--contour)',
                           classes=3, crop=512, zoo={'deeplabv3plus': ('combined',)},
                           weights='dict(human=2.5, mouse=1.0),  # NuInsSeg kidney, capped',
                           sampler=True, loss='flat', batch=4),
    'glomeruli': dict(prefix='glomeruli_', base='../_base_/regimes/glomeruli_{regime}.py',
                      title='glomeruli (HuBMAP human + Orbit mouse/rat)', classes=2, crop=512,
                      zoo={f: ('separate', 'homologous', 'pretrain', 'finetune')
                           for f in ('segnext', 'mobilenetv3')},
                      weights=None,  # InverseFrequencyWeightHook in the regime base
                      sampler=False, loss='flat', batch=4),
    'kidney-layers': dict(prefix='kidney-layers_',
                          base='../_base_/regimes/kidney_layers_{regime}.py',
                          title='kidney layers, mouse 4 layers + human cortex/medulla',
                          classes=5, crop=1024,
                          zoo={'deeplabv3plus-mobilenetv2': ('separate', 'combined')},
                          weights=None,
                          sampler=False, loss='hierarchy', batch=2),
}

# optimiser key: (schedule base, extra lines)
OPTIMISERS = {
    'sgd': ('../_base_/schedules/sgd_cosine_20k.py', ''),
    'adamw_mobilenet': ('../_base_/schedules/adamw_warmup_20k.py', ''),
    'adamw_segnext': ('../_base_/schedules/adamw_warmup_20k.py', '''
# SegNeXt: AdamW 6e-5 (glomeruli paper) with MMSeg's SegNeXt parameter groups.
optim_wrapper = dict(
    optimizer=dict(lr=6e-5),
    paramwise_cfg=dict(custom_keys=dict(pos_block=dict(decay_mult=0.0),
                                        norm=dict(decay_mult=0.0), head=dict(lr_mult=10.0))))'''),
}


def losses(regime: str, scale: float, kind: str = 'flat') -> str:
    """The loss of a regime: focal + Dice for joint training, CE + Dice otherwise;
    the label-hierarchy form with the human cortex/medulla weights 1.25 / 2.0."""
    if kind == 'hierarchy':
        return (f"[dict(type='HierarchicalFocalDiceLoss', label_tree={{{{_base_.label_tree}}}},\n"
                f"                       class_weight=[1.0, 1.25, 2.0, 2.0, 2.0], "
                f"lambda_focal={round(0.75 * scale, 4)},\n"
                f"                       lambda_dice={round(1.0 * scale, 4)})]")
    if regime in JOINT:
        return (f"[dict(type='FocalDiceLoss', gamma=2.0, lambda_focal={round(0.75 * scale, 4)},\n"
                f"                       lambda_dice={round(1.0 * scale, 4)})]")
    return (f"[dict(type='CEDiceLoss', lambda_ce={round(0.5 * scale, 4)},\n"
            f"                       lambda_dice={round(0.75 * scale, 4)})]")


def render(task: str, family: str, regime: str) -> str:
    spec = TASKS[task]
    title, base, aux, optimiser = FAMILIES[family]
    joint = regime in JOINT
    heads = ("    decode_head=dict(\n        num_classes=num_classes,\n"
             f"        loss_decode={losses(regime, 1.0, spec['loss'])}),")
    if aux:  # MMSeg's auxiliary heads weigh 0.4
        heads += ("\n    auxiliary_head=dict(\n        num_classes=num_classes,\n"
                  f"        loss_decode={losses(regime, 0.4, spec['loss'])}),")
    weights = f"\n    sample_weight={spec['weights']}" if joint and spec['weights'] else ''
    if regime == 'finetune':  # stage 2: the encoder keeps stage 1's weights
        weights += "\n    frozen_modules=['backbone'],"
    batch = spec['batch']
    if joint and spec['sampler']:
        # Several organs per species: repeat-factor balancing of organs inside each species.
        balance = ",\n                 balance_by='organ'" if regime != 'homologous' else ''
        sampler = f'''train_dataloader = dict(
    batch_size={batch},
    sampler=dict(_delete_=True, type='CrossSpeciesMixedSampler', batch_size={batch},
                 mix_by='species', ratios=dict(human=1, mouse=1){balance}))'''
    else:
        sampler = f'train_dataloader = dict(batch_size={batch})'
    test_cfg = "\n    test_cfg=dict(mode='whole')," if family == 'unet' else ''
    stage1 = f"{spec['prefix']}{family}_pretrain"
    init_from_stage = f"""
# Stage 1: the newest complete checkpoint in work_dirs/{stage1}
# (or --cfg-options load_from=PATH).
custom_hooks = [dict(type='InitFromStageHook', work_dir='work_dirs/{stage1}',
                     config='configs/crossspec/{stage1}.py')]""" if regime == 'finetune' else ''
    schedule, optimiser_lines = OPTIMISERS[optimiser]
    return f'''\
# Generated by tools/generate_configs.py: edit the table there, not this file.
# {title}, regime '{regime}', {spec['title']},
# 4 GPUs x {batch} images (4xb{batch}), 20k iterations.
_base_ = [
    '{base}',
    '{spec['base'].format(regime=regime)}',
    '{schedule}',
]
num_classes = {spec['classes']}
crop_size = ({spec['crop']}, {spec['crop']})
model = dict(
    type='CrossSpeciesEncoderDecoder',
    # Published initialisation (tools/train.py --no-pretrained drops it).{weights}
    data_preprocessor=dict(size=crop_size),{test_cfg}
{heads})
{sampler}{init_from_stage}{optimiser_lines}
'''


def all_configs():
    """``{path: text}`` of the whole zoo."""
    return {osp.join(ROOT, f"{spec['prefix']}{family}_{regime}.py"): render(task, family, regime)
            for task, spec in TASKS.items()
            for family, regimes in spec['zoo'].items() for regime in regimes}


def main():
    sync_configs(__doc__, 'tools/generate_configs.py', all_configs())


if __name__ == '__main__':
    main()
