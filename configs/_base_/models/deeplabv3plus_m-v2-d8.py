# DeepLabV3+ with a MobileNetV2 backbone, exactly as MMSeg's stock config builds it (with its published
# initialisation). MMSeg defines it only inside its Cityscapes config, so the model dict is read
# from there; nothing else of that config (data, schedule) is inherited.
from mmengine import Config

_stock = Config._get_cfg_path('mmseg::mobilenet_v2/mobilenet-v2-d8_deeplabv3plus_4xb2-80k_cityscapes-512x1024.py', '')[0]
model = Config.fromfile(_stock).model
del Config, _stock
