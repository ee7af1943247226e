# Do encoders trained on human tissue carry to mouse tissue, and does cross-species
# training still help when the encoder already knows human tissue? (docs/foundation.md)
# Encoder (ImageNet ResNet-50 DeepLabV3+ vs each pathology foundation preset, UPerNet,
# frozen and LoRA) x regime (human kidney alone vs combined with mouse) x NuInsSeg's five
# folds; human and mouse kidney reported separately (validation and test cover both
# species in every regime). Every row reads NuInsSeg converted at the encoders' 0.5 um/px
# (the ResNet rows too, so only the encoder differs) and the presets' weights files
# (configs/foundation/*: checkpoints/<preset>/...); it needs GPUs:
#     python tools/dataset_converters/nuinsseg.py RAW_DIR data/nuinsseg_mpp0.5 --mpp 0.5
#     python tools/run_study.py studies/foundation_cross_species.py --dry-run   # the cells
#     python tools/run_study.py studies/foundation_cross_species.py --gpus 4
work_dir = 'work_dirs/study_foundation_cross_species'
folds = dict(k=5, by='fold')
seeds = [0]
baseline = 'separate'
report = ['species+organ/human+kidney', 'species+organ/mouse+kidney']
metrics = dict(Dice='Dice.nucleus', PQ='PQ', AJI='AJI')

data_root = 'data/nuinsseg_mpp0.5'
resnet_options = {
    'model.data_preprocessor.size': (256, 256), 'train_mpp': 0.5,
    **{f'{loader}.dataset.data_root': data_root
       for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')}}
encoders = {'ImageNet ResNet-50 (DeepLabV3+)': ('configs/crossspec/deeplabv3plus_{}.py',
                                                resnet_options)}
for preset, title in (('uni', 'UNI'), ('virchow2', 'Virchow2'), ('hoptimus0', 'H-optimus-0')):
    for tuning in ('frozen', 'lora'):
        encoders[f'{title}, {tuning}'] = (
            f'configs/foundation/{preset}-{tuning}_upernet_nuinsseg-kidney_{{}}.py', {})
runs = [dict(model=encoder, arm=regime, config=config.format(regime), options=options)
        for encoder, (config, options) in encoders.items()
        for regime in ('separate', 'combined')]
