# MoNuSAC alone: train, validate and test on it (typed nuclei, docs/nuclei.md; the
# datasets, pipelines and metric are in nuclei_common.py).
_base_ = ['./nuclei_common.py']
train_dataloader = dict(dataset={{_base_.monusac_train}})
val_dataloader = dict(dataset={{_base_.monusac_val}})
test_dataloader = dict(dataset={{_base_.monusac_test}})
