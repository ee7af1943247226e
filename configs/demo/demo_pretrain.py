# Regime 'pretrain -> finetune', stage 1: the mouse kidney tiles only, CE + Dice.
# Same model and iterations as demo_separate.py.
_base_ = ['./deeplabv3plus_r18-d8_demo.py']
train_dataloader = dict(dataset=dict(regime=dict(mode='pretrain', target={{_base_.target}})))
