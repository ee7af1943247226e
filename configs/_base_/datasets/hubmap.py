# HuBMAP human glomeruli, tiled at x0.4 so glomeruli match mouse size:
#   python tools/dataset_converters/hubmap.py RAW_DIR data/hubmap --scale 0.4 --tile 512
# (--mpp 1.25 instead reads each slide at that um/px: x0.4 of 0.5 um/px slides).
# Only the 15 training slides have labels; validation and test hold out whole
# slides (keep patients together: see the manifest's `group` column).
_base_ = ['./tiles.py']
dataset_type = 'HuBMAPDataset'
data_root = 'data/hubmap'
train_mpp = 1.25  # um/px of the tiles; tools/infer_slide.py reads slides at it
val_slides = ['1e2425f28', 'afa5e8098']
test_slides = ['b9a3865fc', 'cb2d976f4']
train_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, filters={'!slide': val_slides + test_slides}))
val_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, filters=dict(slide=val_slides)))
test_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, filters=dict(slide=test_slides)))
