# Regime 'separate': human kidney tiles only, CE + Dice (the seeds' L_s).
_base_ = ['./deeplabv3plus_r18-d8_demo.py']
train_dataloader = dict(dataset=dict(regime=dict(mode='separate', target={{_base_.target}})))
