# Regime 'pretrain -> finetune', stage 2: the human kidney tiles, CE + Dice, from
# stage 1's newest complete checkpoint in work_dirs/demo/pretrain (or
# --cfg-options load_from=PATH; tools/run_study.py passes its own). The whole
# network is fine-tuned (the zoo's *_finetune.py configs freeze the encoder).
_base_ = ['./demo_separate.py']
train_dataloader = dict(dataset=dict(regime=dict(mode='finetune', target={{_base_.target}})))
custom_hooks = [dict(type='InitFromStageHook', work_dir='work_dirs/demo/pretrain',
                     config='configs/demo/demo_pretrain.py')]
