# Typed-nuclei demo (make demo-nuclei, scripts/demo_nuclei.sh), run "B alone":
# route a (configs/nuclei/contour_deeplabv3plus_consep.py: DeepLabV3+ with a typed
# contour head, hierarchical loss, TypedContourWatershed) shrunk to run on CPU: the
# demo's half-width ResNet-18 (V1c, 32 base channels) from scratch, batch 8 of
# 128 px tiles, AdamW, a few hundred iterations, on the synthetic CoNSeP, PanNuke
# and MoNuSAC downloads of crossspec_mmseg/demo/nuclei_appearance.py converted at
# 0.5 um/px under data/demo_nuclei/. nuclei_pannuke.py (A alone) and
# nuclei_pannuke-then-consep.py (A then B) change only the training data.
_base_ = ['../nuclei/contour_deeplabv3plus_consep.py']
# The demo's own data (the route-a configs' data/<name> may hold the real downloads);
# the loaders below name these roots (the base's <name>_train/_val/_test keep theirs).
pannuke_root = 'data/demo_nuclei/pannuke'
consep_root = 'data/demo_nuclei/consep'
monusac_root = 'data/demo_nuclei/monusac'
max_iters = 400  # as many as A then B together (200 + 200): a fair baseline
model = dict(
    pretrained=None,  # nothing is downloaded: train from scratch
    backbone=dict(depth=18, base_channels=32, stem_channels=32),
    decode_head=dict(in_channels=256, c1_in_channels=32, channels=64, c1_channels=32,
                     dilations=(1, 6, 12, 18)),
    auxiliary_head=dict(in_channels=128, channels=32))
train_dataloader = dict(batch_size=8, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root=consep_root))
# Validation once, at the end, on a few tiles (the demo reports the test splits).
val_dataloader = dict(num_workers=0, persistent_workers=False,
                      dataset=dict(data_root=consep_root, indices=8))
# Test: every dataset's test split, each in its own labels (PanNuke and MoNuSAC unseen).
test_dataloader = dict(num_workers=0, persistent_workers=False, dataset=dict(datasets=[
    dict(type='PanNukeDataset', data_root=pannuke_root, label_offset=0,
         filters=dict(fold='fold3', mpp={{_base_.mpp_filter}}), pipeline={{_base_.test_pipeline}}),
    dict(type='CoNSePDataset', data_root=consep_root, label_offset=6,
         filters=dict(split='test', mpp={{_base_.mpp_filter}}), pipeline={{_base_.test_pipeline}}),
    dict(type='MoNuSACDataset', data_root=monusac_root, label_offset=14,
         filters=dict(split='test', mpp={{_base_.mpp_filter}}),
         pipeline={{_base_.test_pipeline}})]))
optim_wrapper = dict(_delete_=True, type='OptimWrapper',
                     optimizer=dict(type='AdamW', lr=2e-3, weight_decay=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, begin=0, end=30, by_epoch=False),
    dict(type='PolyLR', power=0.9, eta_min=1e-5, begin=30, end=max_iters, by_epoch=False)]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(
    logger=dict(interval=25, log_metric_by_epoch=False),
    # every 100 iterations (--resume loses at most 100); the last one is tested (no
    # best-on-validation pick: validation runs once, at the end)
    checkpoint=dict(by_epoch=False, interval=100, max_keep_ckpts=1, save_best=None),
    visualization=dict(type='SegVisualizationHook'))
env_cfg = dict(cudnn_benchmark=False)
randomness = dict(seed=0)
