# Regime 'finetune', target human kidney nuclei: stage 2 of pretrain-finetune:
# the target only, from the stage-1 checkpoint. The *_finetune.py configs
# freeze the encoder in the model (frozen_modules: no gradients, BN statistics
# fixed, done when the model is built, so DDP never waits for it) and name
# their stage 1 (InitFromStageHook); --cfg-options load_from=PATH overrides it.
_base_ = ['./nuinsseg_kidney.py']
train_dataloader = dict(dataset=dict(regime=dict(mode='finetune', target={{_base_.target}})))
