# HuBMAP human glomeruli, tiled at x0.4 so glomeruli match mouse size:
#   python tools/dataset_converters/hubmap.py RAW_DIR data/hubmap --scale 0.4 --tile 512
# (--mpp 1.25 instead reads each slide at that um/px: x0.4 of 0.5 um/px slides).
# Only the 15 training slides have labels; validation and test hold out whole
# slides, marked val/test in the manifest's `split` column by the converter
# (patients stay together: see the `group` column).
_base_ = ['./tiles.py']
dataset_type = 'HuBMAPDataset'
data_root = 'data/hubmap'
train_mpp = 1.25  # um/px of the tiles; tools/infer_slide.py reads slides at it
train_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, filters=dict(split='train')))
val_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, filters=dict(split='val')))
test_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, filters=dict(split='test')))
