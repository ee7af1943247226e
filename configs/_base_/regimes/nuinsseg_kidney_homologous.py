# Regime 'homologous', target human kidney nuclei: the target + mouse kidney
# (same organ, other species).
_base_ = ['./nuinsseg_kidney.py']
train_dataloader = dict(dataset=dict(regime=dict(mode='homologous', target={{_base_.target}})))
