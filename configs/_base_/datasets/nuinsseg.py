# NuInsSeg nuclei (human + mouse, 512 px tiles), converted with
#   python tools/dataset_converters/nuinsseg.py RAW_DIR data/nuinsseg
# Official 5-fold split in the manifest's `split` column: train fold0-2,
# validate fold3, test fold4 (tools/cross_validate.py rotates them).
_base_ = ['./tiles.py']
dataset_type = 'NuInsSegDataset'
data_root = 'data/nuinsseg'
train_folds = ['fold0', 'fold1', 'fold2']
val_folds = ['fold3']
test_folds = ['fold4']
train_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, filters=dict(split=train_folds)))
val_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, filters=dict(split=val_folds)))
test_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, filters=dict(split=test_folds)))
val_evaluator = dict(type='GroupIoUMetric', report_by=('species', 'organ'))
test_evaluator = val_evaluator
