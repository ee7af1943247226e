# SegNeXt MSCAN-S, exactly as MMSeg's stock config builds it (with its published
# initialisation). MMSeg defines SegNeXt only inside its ADE20K config, so the model dict is read
# from there; nothing else of that config (data, schedule) is inherited.
from mmengine import Config

_stock = Config._get_cfg_path('mmseg::segnext/segnext_mscan-s_1xb16-adamw-160k_ade20k-512x512.py', '')[0]
model = Config.fromfile(_stock).model
del Config, _stock
