# NuInsSeg nuclei (human + mouse, 512 px tiles), converted with
#   python tools/dataset_converters/nuinsseg.py RAW_DIR data/nuinsseg
# Official 5-fold split in the manifest's `fold` column: train fold0-2,
# validate fold3, test fold4 (tools/cross_validate.py rotates them).
# Validation and test also score nuclei as instances (PQ, AJI; GroupInstanceMetric)
# against the converter's instance maps (instances/, loaded by LoadInstanceMap).
_base_ = ['./tiles.py']
dataset_type = 'NuInsSegDataset'
data_root = 'data/nuinsseg'
train_folds = ['fold0', 'fold1', 'fold2']
val_folds = ['fold3']
test_folds = ['fold4']
instance_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='LoadInstanceMap'),
    dict(type='PackSegInputsWithInstances', meta_keys={{_base_.meta_keys}}),
]
train_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, filters=dict(fold=train_folds)))
val_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, filters=dict(fold=val_folds),
                 pipeline=instance_test_pipeline))
test_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, filters=dict(fold=test_folds),
                 pipeline=instance_test_pipeline))
# Nuclei from the predicted mask: connected components of at least 10 px.
nucleus_postprocess = dict(type='ConnectedComponents', classes=(1,), min_size=10)
val_evaluator = [
    dict(type='GroupIoUMetric', report_by=('species', 'organ')),
    dict(type='GroupInstanceMetric', report_by=('species', 'organ'),
         postprocess=nucleus_postprocess),
]
test_evaluator = val_evaluator
