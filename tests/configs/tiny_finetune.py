# tiny_demo as stage 2 of pretrain -> finetune: encoder frozen in the model
# (what the *_finetune.py configs inherit from the finetune regime base).
_base_ = ['./tiny_demo.py']
model = dict(type='CrossSpeciesEncoderDecoder', frozen_modules=['backbone'])
