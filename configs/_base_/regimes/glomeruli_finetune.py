# Regime 'finetune' for glomeruli (stage 2 of pretrain -> finetune): the human
# HuBMAP training slides, from the stage-1 checkpoint (the configs name their
# stage 1 with InitFromStageHook; --cfg-options load_from=PATH overrides it).
_base_ = ['./glomeruli_separate.py']
