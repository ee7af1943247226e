"""Tiny StarDist heads and segmentors (built offline) shared by the StarDist tests."""
from mmengine.config import ConfigDict
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

from crossspec_mmseg.structures import LabelTree

LEAVES = len(LabelTree.build('nucleus').leaves)
CLASS_LOSS = dict(type='HierarchicalFocalDiceLoss', label_tree='nucleus', gamma=0.0,
                  lambda_focal=1.0, lambda_dice=1.0,
                  region=dict(type='tversky', alpha=0.3, beta=0.7, gamma=0.75))


def tiny_head(**kwargs):
    init_default_scope('mmseg')
    cfg = dict(type='StarDistHead', in_channels=[4, 6, 8], in_index=[0, 1, 2], channels=8,
               decoder_channels=(8, 8, 8), extra_upsamples=1, n_rays=8, num_classes=LEAVES,
               dropout_ratio=0.0, loss_decode=CLASS_LOSS)
    cfg.update(kwargs)
    return MODELS.build(cfg)


def tiny_model(n_rays=8, test_cfg=None, **kwargs):
    """A StarDistSegmentor on a tiny ResNet-18 (16 base channels), built offline."""
    init_default_scope('mmseg')
    bn = dict(type='BN', requires_grad=True)
    cfg = dict(
        type='StarDistSegmentor',
        data_preprocessor=dict(type='SegDataPreProcessor', mean=[0, 0, 0], std=[1, 1, 1],
                               pad_val=0, seg_pad_val=255, size_divisor=16),
        backbone=dict(type='ResNetV1c', depth=18, base_channels=8, stem_channels=8,
                      out_indices=(0, 1, 2, 3), strides=(1, 2, 2, 2), dilations=(1, 1, 1, 1),
                      norm_cfg=bn, contract_dilation=True),
        decode_head=dict(type='StarDistHead', in_channels=[8, 16, 32, 64], channels=8,
                         decoder_channels=(16, 16, 8, 8), n_rays=n_rays, num_classes=LEAVES,
                         norm_cfg=bn, dropout_ratio=0.0, loss_decode=CLASS_LOSS),
        train_cfg=dict(), test_cfg=ConfigDict(dict(mode='whole', **(test_cfg or {}))))
    cfg.update(kwargs)
    return MODELS.build(cfg)
