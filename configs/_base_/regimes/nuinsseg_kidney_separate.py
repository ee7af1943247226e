# Regime 'separate', target human kidney nuclei: the target only (human kidney
# nuclei).
_base_ = ['./nuinsseg_kidney.py']
train_dataloader = dict(dataset=dict(regime=dict(mode='separate', target={{_base_.target}})))
