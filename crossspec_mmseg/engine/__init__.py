from .checkpoint_compat import CHECKPOINT_SAFE_GLOBALS, register_checkpoint_safe_globals
from .cpu_ddp import CPUDistributedDataParallel
from .launch import base_parser, load_cli_config, prepare_cpu_distributed

__all__ = ['CHECKPOINT_SAFE_GLOBALS', 'CPUDistributedDataParallel', 'base_parser',
           'load_cli_config', 'prepare_cpu_distributed', 'register_checkpoint_safe_globals']
