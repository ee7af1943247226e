# Regime 'analogous', target human kidney nuclei: the target + liver of either
# species (kidney <-> liver: filtering organs; see
# crossspec_mmseg/resources/analogous_organs.csv).
_base_ = ['./nuinsseg_kidney.py']
train_dataloader = dict(dataset=dict(regime=dict(mode='analogous', target={{_base_.target}})))
