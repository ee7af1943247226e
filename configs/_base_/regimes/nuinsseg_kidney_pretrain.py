# Regime 'pretrain', target human kidney nuclei: stage 1 of pretrain-finetune:
# the non-human part of the homologous set (mouse kidney).
_base_ = ['./nuinsseg_kidney.py']
train_dataloader = dict(dataset=dict(regime=dict(mode='pretrain', target={{_base_.target}})))
