# Regime 'combined', target human kidney nuclei: homologous + analogous.
_base_ = ['./nuinsseg_kidney.py']
train_dataloader = dict(dataset=dict(regime=dict(mode='combined', target={{_base_.target}})))
