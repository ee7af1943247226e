# tiny_demo with the cross-species sampler (1 human : 1 mouse per batch) and a
# hook recording what each rank drew.
_base_ = ['./tiny_demo.py']
train_dataloader = dict(
    batch_size=2,
    sampler=dict(_delete_=True, type='CrossSpeciesMixedSampler', batch_size=2,
                 ratios=dict(human=1, mouse=1)))
custom_hooks = [dict(type='GroupCountHook', keys=('species',))]
