# HuBMAP human glomeruli, tiled at x0.4 so glomeruli match mouse size:
#   python tools/dataset_converters/hubmap.py RAW_DIR data/hubmap --scale 0.4 --tile 512
# Only the 15 training slides have labels; validation and test hold out whole
# slides, marked val/test in the manifest's `split` column by the converter
# (patients stay together: see the `group` column).
_base_ = ['./tiles.py']
dataset_type = 'HuBMAPDataset'
data_root = 'data/hubmap'
train_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, filters=dict(split='train')))
val_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, filters=dict(split='val')))
test_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, filters=dict(split='test')))
