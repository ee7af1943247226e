# Glomeruli (the glomeruli paper): mouse/rat pre-training (Orbit) then human
# fine-tuning (HuBMAP) against human only, MobileNetV3 LR-ASPP and SegNeXt, over 4
# folds of the HuBMAP slides (group-preserving: a slide is in one fold), one seed;
# the table reports the paired and the one-sample t-test (study.json). Needs the
# converted downloads in data/hubmap and data/orbit and GPUs:
#     python tools/run_study.py studies/glomeruli.py --gpus 4
work_dir = 'work_dirs/study_glomeruli'
folds = dict(k=4, by='case', manifest='data/hubmap/manifest.csv')
seeds = [0]
baseline = 'separate'
report = ['dataset/hubmap', 'dataset/orbit']
metrics = dict(mIoU='mIoU', Dice='Dice.glomerulus', count_diff='count_diff.glomerulus')
runs = []
for name, family in {'MobileNetV3 LR-ASPP': 'mobilenetv3', 'SegNeXt MSCAN-S': 'segnext'}.items():
    runs += [dict(model=name, arm='separate',
                  config=f'configs/crossspec/glomeruli_{family}_separate.py'),
             dict(model=name, arm='pretrain > finetune',
                  config=f'configs/crossspec/glomeruli_{family}_finetune.py',
                  pretrain=f'configs/crossspec/glomeruli_{family}_pretrain.py')]
