# Regime 'finetune', target human kidney nuclei: stage 2 of pretrain-finetune:
# the target only, from the pretrain checkpoint, backbone frozen.
_base_ = ['./nuinsseg_kidney.py']
train_dataloader = dict(dataset=dict(regime=dict(mode='finetune', target={{_base_.target}})))
# Start from stage 1 (pass its checkpoint: --cfg-options load_from=PATH) and
# freeze the encoder (no gradients, BN statistics fixed).
load_from = 'work_dirs/pretrain/iter_last.pth'  # placeholder for the stage-1 checkpoint
custom_hooks = [dict(type='FreezeModulesHook', modules=['backbone'])]
