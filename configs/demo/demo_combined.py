# Regime 'combined': human + mouse kidney, half of every batch human
# (CrossSpeciesMixedSampler), human samples weighted 2.5 in the loss and the
# joint focal + Dice loss (the seeds' L_t). Same model, iterations and test set
# as demo_separate.py.
_base_ = ['./deeplabv3plus_r18-d8_demo.py']
train_dataloader = dict(
    dataset=dict(regime=dict(mode='combined', target={{_base_.target}})),
    sampler=dict(_delete_=True, type='CrossSpeciesMixedSampler', batch_size=8,
                 mix_by='species', ratios=dict(human=1, mouse=1)))
model = dict(
    sample_weight=dict(human=2.5, mouse=1.0),
    decode_head=dict(loss_decode=dict(_delete_=True, type='FocalDiceLoss', gamma=2.0,
                                      lambda_focal=0.75, lambda_dice=1.0)),
    auxiliary_head=dict(loss_decode=dict(_delete_=True, type='FocalDiceLoss', gamma=2.0,
                                         lambda_focal=0.3, lambda_dice=0.4)))
