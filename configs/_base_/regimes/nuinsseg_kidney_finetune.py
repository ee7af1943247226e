# Regime 'finetune', target human kidney nuclei: stage 2 of pretrain-finetune:
# the target only, from the stage-1 checkpoint, encoder frozen (no gradients,
# BN statistics fixed) when the model is built, so DDP never waits for it.
# Stage 1's checkpoint: each finetune config names its pretrain work dir
# (InitFromStageHook); --cfg-options load_from=PATH overrides it.
_base_ = ['./nuinsseg_kidney.py']
train_dataloader = dict(dataset=dict(regime=dict(mode='finetune', target={{_base_.target}})))
model = dict(type='CrossSpeciesEncoderDecoder', frozen_modules=['backbone'])
