# Orbit mouse/rat glomeruli (official train/test folders):
#   python tools/dataset_converters/orbit.py RAW_DIR data/orbit --tile 512
# Validation uses the test folder; 255 marks outside-ROI and excluded areas.
_base_ = ['./tiles.py']
dataset_type = 'OrbitGlomeruliDataset'
data_root = 'data/orbit'

train_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, filters=dict(split='train')))
val_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, filters=dict(split='test')))
test_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, filters=dict(split='test')))
