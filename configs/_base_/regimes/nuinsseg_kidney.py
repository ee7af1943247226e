# Target human kidney nuclei (NuInsSeg). Each regime file sets the training
# selection; validation and test always cover the combined set so every part
# is reported separately, the target alone as 'species+organ/human+kidney'.
_base_ = ['../datasets/nuinsseg.py', '../default_runtime.py']
target = dict(species='human', organ='kidney')
val_dataloader = dict(dataset=dict(regime=dict(mode='combined', target=target)))
test_dataloader = val_dataloader
report_by = (('species', 'organ'), 'species', 'organ')
val_evaluator = [
    dict(type='GroupIoUMetric', report_by=report_by),
    dict(type='GroupInstanceMetric', report_by=report_by,
         postprocess={{_base_.nucleus_postprocess}}),
]
test_evaluator = val_evaluator
