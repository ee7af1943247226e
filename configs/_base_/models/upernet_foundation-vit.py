# UPerNet on a pathology foundation ViT: MMSeg's stock BEiT UPerNet (Feature2Pyramid
# neck to strides 4/8/16/32 of the patch grid, UPerHead, FCN auxiliary head on the
# third level) with the backbone replaced by FoundationViT (docs/foundation.md).
# Configs set the preset, its weights file and embedding width, its normalisation
# and the tuning (frozen, lora, dora, full).
_base_ = ['mmseg::_base_/models/upernet_beit.py']
model = dict(
    type='CrossSpeciesEncoderDecoder',
    pretrained=None,
    backbone=dict(_delete_=True, type='FoundationViT', preset='uni', weights=None,
                  tuning='frozen'),
    decode_head=dict(channels=512),
    test_cfg=dict(mode='whole'))
