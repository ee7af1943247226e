# Regime 'combined' with a contour head: 3 classes (0 background, 1 nucleus
# interior, 2 boundary) so touching nuclei stay apart. Data converted with
#   python tools/dataset_converters/nuinsseg.py RAW_DIR data/nuinsseg --contour 2
# (manifest column mask_contour); nuclei for the instance metric by watershed
# from the interiors over the boundaries.
_base_ = ['./nuinsseg_kidney_combined.py']
contour = dict(type='NuInsSegContourDataset')
train_dataloader = dict(dataset=contour)
val_dataloader = dict(dataset=contour)
test_dataloader = dict(dataset=contour)
val_evaluator = [
    dict(type='GroupIoUMetric', report_by={{_base_.report_by}}),
    dict(type='GroupInstanceMetric', report_by={{_base_.report_by}},
         postprocess=dict(type='ContourWatershed', interior=1, boundary=2, min_size=10)),
]
test_evaluator = val_evaluator
