# Human kidney nuclei (NuInsSeg, the CrossSpec report): four regimes (human only,
# + mouse kidney, + analogous mouse organs, both) x U-Net / PSPNet / DeepLabV3+
# R-50, over NuInsSeg's five official folds (the manifest's split column), one
# seed. Needs the converted download in data/nuinsseg and GPUs:
#     python tools/run_study.py studies/nuinsseg_kidney.py --gpus 4
# The report trains at 1024 x 1024 input: set input_size below to resize the
# 512 px tiles x2 on the fly (4x the memory and time).
work_dir = 'work_dirs/study_nuinsseg_kidney'
folds = dict(k=5, by='fold')
seeds = [0]
baseline = 'separate'
report = ['species+organ/human+kidney', 'species+organ/mouse+kidney', 'species/human']
metrics = dict(mIoU='mIoU', Dice='Dice.nucleus', PQ='PQ', AJI='AJI')
input_size = (512, 512)
options = {}
if input_size != (512, 512):
    resize = dict(type='Resize', scale=input_size, keep_ratio=True)
    options = {
        'model.data_preprocessor.size': input_size,
        'train_dataloader.dataset.pipeline': [
            dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'), resize,
            dict(type='RandomFlip', prob=0.5, direction='horizontal'),
            dict(type='RandomFlip', prob=0.5, direction='vertical'),
            dict(type='PhotoMetricDistortion', brightness_delta=16, contrast_range=(0.8, 1.2),
                 saturation_range=(0.8, 1.2), hue_delta=8),
            dict(type='PackSegInputs', meta_keys=(
                'img_path', 'seg_map_path', 'ori_shape', 'img_shape', 'pad_shape',
                'scale_factor', 'flip', 'flip_direction', 'reduce_zero_label', 'dataset',
                'species', 'organ', 'slide', 'case', 'split', 'fold'))],
    }
models = {'U-Net': 'unet', 'PSPNet R-50': 'pspnet', 'DeepLabV3+ R-50': 'deeplabv3plus'}
runs = [dict(model=name, arm=regime, config=f'configs/crossspec/{family}_{regime}.py')
        for name, family in models.items()
        for regime in ('separate', 'homologous', 'analogous', 'combined')]
