from .checkpoint_compat import CHECKPOINT_SAFE_GLOBALS, register_checkpoint_safe_globals
from .cpu_ddp import CPUDistributedDataParallel
from .freeze_hook import FreezeModulesHook
from .group_count_hook import GroupCountHook
from .launch import base_parser, finish_distributed, load_cli_config, prepare_cpu_distributed

__all__ = ['CHECKPOINT_SAFE_GLOBALS', 'CPUDistributedDataParallel', 'FreezeModulesHook',
           'GroupCountHook', 'base_parser', 'finish_distributed', 'load_cli_config',
           'prepare_cpu_distributed', 'register_checkpoint_safe_globals']
