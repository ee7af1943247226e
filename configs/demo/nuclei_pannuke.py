# Typed-nuclei demo, run "A alone" (stage 1 of A then B): nuclei_consep.py's shrunk
# route-a model and schedule trained on the synthetic PanNuke (first rotation: train
# fold 1, validate on a few fold 2 tiles), as configs/nuclei/contour_deeplabv3plus_pannuke.py
# trains on PanNuke; tested on every dataset, each in its own labels.
_base_ = ['./nuclei_consep.py']
max_iters = 200
train_dataloader = dict(dataset=dict(
    type='PanNukeDataset', data_root={{_base_.pannuke_root}}, label_offset=0,
    filters=dict(_delete_=True, fold='fold1', mpp={{_base_.mpp_filter}})))
val_dataloader = dict(dataset=dict(
    type='PanNukeDataset', data_root={{_base_.pannuke_root}}, label_offset=0,
    filters=dict(_delete_=True, fold='fold2', mpp={{_base_.mpp_filter}})))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, begin=0, end=30, by_epoch=False),
    dict(type='PolyLR', power=0.9, eta_min=1e-5, begin=30, end=max_iters, by_epoch=False)]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
train_origins = ['pannuke']
unseen_test = dict(filters={'!origin': train_origins})
