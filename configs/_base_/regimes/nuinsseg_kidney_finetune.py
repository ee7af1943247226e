# Regime 'finetune' for target human kidney nuclei (NuInsSeg): stage 2 of pretrain-finetune: the target only, from the pretrain checkpoint, backbone frozen.
# Validation and test always cover the combined set so every part is reported
# separately, the target alone as 'species+organ/human+kidney'.
target = dict(species='human', organ='kidney')
train_dataloader = dict(dataset=dict(regime=dict(mode='finetune', target=target)))
val_dataloader = dict(dataset=dict(regime=dict(mode='combined', target=target)))
test_dataloader = val_dataloader
val_evaluator = dict(type='GroupIoUMetric', group_keys=(('species', 'organ'), 'species', 'organ'))
test_evaluator = val_evaluator
# Start from stage 1 (pass its checkpoint: --cfg-options load_from=PATH) and
# freeze the encoder (no gradients, BN statistics fixed).
load_from = 'work_dirs/pretrain/iter_last.pth'  # placeholder for the stage-1 checkpoint
custom_hooks = [dict(type='FreezeModulesHook', modules=['backbone'])]
