"""ViTLayerDecayOptimizerConstructor: each timm block its own rate, counted
independently here from the parameter names."""
import torch.nn as nn
from mmengine.registry import init_default_scope
from mmseg.registry import OPTIM_WRAPPER_CONSTRUCTORS

from crossspec_mmseg.models.backbones import FoundationViT


class Model(nn.Module):
    def __init__(self, **backbone):
        super().__init__()
        self.backbone = FoundationViT('uni', arch=dict(depth=3, embed_dim=32, num_heads=2),
                                      out_indices=(0, 1, 2), **backbone)
        self.decode_head = nn.Conv2d(32, 2, 1)


def build(model, decay=0.5):
    init_default_scope('mmseg')
    constructor = OPTIM_WRAPPER_CONSTRUCTORS.build(dict(
        type='ViTLayerDecayOptimizerConstructor',
        optim_wrapper_cfg=dict(type='OptimWrapper',
                               optimizer=dict(type='AdamW', lr=1.0, weight_decay=0.05)),
        paramwise_cfg=dict(decay_rate=decay)))
    optimizer = constructor(model).optimizer
    return {id(p): g for g in optimizer.param_groups for p in g['params']}


def test_rates_fall_by_the_decay_per_block_from_the_head_down():
    model = Model(tuning='full')
    groups = build(model)
    for name, param in model.named_parameters():
        group = groups[id(param)]
        if name.startswith('backbone.encoder.blocks.'):
            block = int(name.split('.')[3])
            expected = 0.5 ** (3 - block)  # the last block 0.5, the first 0.125
        elif name.startswith(('backbone.encoder.cls_token', 'backbone.encoder.pos_embed',
                              'backbone.encoder.patch_embed.')):
            expected = 0.5 ** 4
        else:  # the final norm, the head
            expected = 1.0
        assert group['lr'] == expected, name
        no_decay = param.ndim == 1 or name.endswith(('cls_token', 'pos_embed'))
        assert group['weight_decay'] == (0.0 if no_decay else 0.05), name
    assert len(groups) == sum(1 for _ in model.parameters())


def test_frozen_parameters_are_left_out_adapters_take_their_blocks_rate():
    model = Model(tuning='lora', lora=dict(r=2))
    groups = build(model)
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    assert len(groups) == len(trainable)
    for name, param in trainable:
        if 'lora_' in name:
            assert groups[id(param)]['lr'] == 0.5 ** (3 - int(name.split('.')[3])), name
