from .checkpoint_compat import CHECKPOINT_SAFE_GLOBALS, register_checkpoint_safe_globals
from .cpu_ddp import CPUDistributedDataParallel
from .group_count_hook import GroupCountHook
from .launch import (
                     ConfigError,
                     base_parser,
                     finish_distributed,
                     load_cli_config,
                     prepare_cpu_distributed,
)
from .safe_resume import (
                     ATOMIC_BACKEND,
                     AtomicLocalBackend,
                     checkpoint_is_complete,
                     resume_checkpoint,
)
from .sample_log_hook import SampleLogHook
from .stage_checkpoint_hook import InitFromStageHook, StageCheckpointMissing

__all__ = ['ATOMIC_BACKEND', 'CHECKPOINT_SAFE_GLOBALS', 'AtomicLocalBackend',
           'CPUDistributedDataParallel', 'ConfigError', 'GroupCountHook', 'InitFromStageHook',
           'SampleLogHook', 'StageCheckpointMissing', 'base_parser', 'checkpoint_is_complete',
           'finish_distributed', 'load_cli_config', 'prepare_cpu_distributed',
           'register_checkpoint_safe_globals', 'resume_checkpoint']
