# MobileNetV3-large LR-ASPP, exactly as MMSeg's stock config builds it (with its published
# initialisation). MMSeg sets MobileNetV3's ImageNet initialisation only in its Cityscapes config, so the model dict is read
# from there; nothing else of that config (data, schedule) is inherited.
from mmengine import Config

_stock = Config._get_cfg_path('mmseg::mobilenet_v3/mobilenet-v3-d8_lraspp_4xb4-320k_cityscapes-512x1024.py', '')[0]
model = Config.fromfile(_stock).model
del Config, _stock
