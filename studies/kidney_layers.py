# Kidney layers (the kidney-layer study): human cortex/medulla alone against human
# + mouse layers through one label-hierarchy head, DeepLabV3+ MobileNetV2, 4 folds
# of the human slides (group-preserving), one seed. Needs data/hubmap (converted
# with --anatomy), data/mouse_kidney_layers and GPUs:
#     python tools/run_study.py studies/kidney_layers.py --gpus 4
work_dir = 'work_dirs/study_kidney_layers'
folds = dict(k=4, by='case', manifest='data/hubmap/manifest.csv')
seeds = [0]
baseline = 'separate'
report = ['species/human', 'species/mouse']
metrics = dict(mIoU='mIoU', mDice='mDice')
runs = [dict(model='DeepLabV3+ MobileNetV2', arm=regime,
             config=f'configs/crossspec/kidney-layers_deeplabv3plus-mobilenetv2_{regime}.py')
        for regime in ('separate', 'combined')]
