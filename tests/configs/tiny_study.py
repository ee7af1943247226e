# A 2-iteration study on the tests' synthetic demo data ($CROSSSPEC_DATA): the demo's
# regime configs with tiny_demo.py's model, two group-preserving folds. Runs:
# human only, and mouse pre-training -> human fine-tuning with HED jitter.
data = '{{$CROSSSPEC_DATA:data/demo}}'
folds = dict(k=2, by='case')
seeds = [0]
baseline = 'separate'
report = ['species/human', 'species/mouse']
metrics = dict(mIoU='mIoU', Dice='Dice.nucleus', PQ='PQ')
options = {
    'train_dataloader.dataset.data_root': data, 'val_dataloader.dataset.data_root': data,
    'test_dataloader.dataset.data_root': data, 'train_dataloader.batch_size': 2,
    'model.data_preprocessor.size': (64, 64), 'model.backbone.base_channels': 16,
    'model.backbone.stem_channels': 16, 'model.decode_head.in_channels': 128,
    'model.decode_head.c1_in_channels': 16, 'model.decode_head.channels': 16,
    'model.decode_head.c1_channels': 8, 'model.auxiliary_head.in_channels': 64,
    'model.auxiliary_head.channels': 16, 'train_cfg.max_iters': 2,
    'param_scheduler': [dict(type='ConstantLR', factor=1.0, by_epoch=False)],
    'default_hooks.checkpoint.interval': 1, 'default_hooks.logger.interval': 1}
runs = [
    dict(model='tiny', arm='separate', config='configs/demo/demo_separate.py'),
    dict(model='tiny', arm='pretrain > finetune + HED', config='configs/demo/demo_finetune.py',
         pretrain='configs/demo/demo_pretrain.py', pipeline='train_pipeline_hed'),
]
