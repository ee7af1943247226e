# Regime 'pretrain -> finetune', stage 2: the human kidney tiles, CE + Dice, from
# stage 1's newest complete checkpoint in work_dirs/demo_pretrain (where
# tools/train.py configs/demo/demo_pretrain.py puts it), or --cfg-options
# load_from=PATH (scripts/demo.sh and tools/run_study.py pass theirs). The whole
# network is fine-tuned (the zoo's *_finetune.py configs freeze the encoder).
_base_ = ['./demo_separate.py']
train_dataloader = dict(dataset=dict(regime=dict(mode='finetune', target={{_base_.target}})))
custom_hooks = [dict(type='InitFromStageHook', work_dir='work_dirs/demo_pretrain',
                     config='configs/demo/demo_pretrain.py')]
