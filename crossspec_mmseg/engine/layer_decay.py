"""Layer-wise learning-rate decay for timm ViTs (``FoundationViT``).

MMSeg's ``LearningRateDecayOptimizerConstructor`` knows ConvNeXt, BEiT and MAE
parameter names only. Here the embeddings are layer 0, ``blocks.N`` layer
N + 1 (adapters included), everything after the encoder (final norm, stem,
neck, heads) layer depth + 1 at the base rate, and layer ``i`` learns at
``lr * decay_rate ** (depth + 1 - i)``. Biases, norms, tokens and position
embeddings get no weight decay.

    optim_wrapper = dict(constructor='ViTLayerDecayOptimizerConstructor',
                         paramwise_cfg=dict(decay_rate=0.75))
"""
import re

from mmengine.logging import print_log
from mmengine.optim import DefaultOptimWrapperConstructor
from mmseg.registry import OPTIM_WRAPPER_CONSTRUCTORS

__all__ = ['ViTLayerDecayOptimizerConstructor', 'vit_layer_id']

EMBEDDINGS = ('cls_token', 'reg_token', 'pos_embed', 'patch_embed', 'mask_token')
NO_DECAY = ('cls_token', 'reg_token', 'pos_embed', 'mask_token')


def vit_layer_id(name: str, depth: int, encoder: str = 'backbone.encoder.') -> int:
    """The decay layer of parameter ``name`` in a model whose ViT is at ``encoder``."""
    if not name.startswith(encoder):
        return depth + 1
    inner = name[len(encoder):]
    if inner.split('.')[0] in EMBEDDINGS:
        return 0
    match = re.match(r'blocks\.(\d+)\.', inner)
    return int(match.group(1)) + 1 if match else depth + 1


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class ViTLayerDecayOptimizerConstructor(DefaultOptimWrapperConstructor):
    """``paramwise_cfg=dict(decay_rate=0.75)``; the depth is read from the model."""

    def add_params(self, params, module, **kwargs):
        decay_rate = self.paramwise_cfg.get('decay_rate', 0.75)
        depth = len(module.backbone.encoder.blocks)
        groups = {}
        for name, param in module.named_parameters():
            if not param.requires_grad:
                continue
            no_decay = param.ndim == 1 or name.endswith('.bias') or \
                name.split('.')[-1] in NO_DECAY
            layer = vit_layer_id(name, depth)
            key = (layer, no_decay)
            if key not in groups:
                scale = decay_rate ** (depth + 1 - layer)
                groups[key] = dict(params=[], lr=self.base_lr * scale, lr_scale=scale,
                                   weight_decay=0.0 if no_decay else self.base_wd)
            groups[key]['params'].append(param)
        params.extend(groups[k] for k in sorted(groups))
        print_log(f'ViTLayerDecayOptimizerConstructor: {len(groups)} groups, depth {depth}, '
                  f'decay {decay_rate} (lr x {decay_rate ** (depth + 1):.3g} at the '
                  'embeddings)', logger='current')
