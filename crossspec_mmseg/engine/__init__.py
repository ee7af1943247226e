from .checkpoint_compat import (
    CHECKPOINT_SAFE_GLOBALS,
    UnreadableCheckpointError,
    load_local_checkpoint,
    register_checkpoint_safe_globals,
)
from .cpu_ddp import CPUDistributedDataParallel, finish_distributed, prepare_cpu_distributed
from .group_count_hook import GroupCountHook
from .inverse_frequency_hook import InverseFrequencyWeightHook
from .layer_decay import ViTLayerDecayOptimizerConstructor
from .safe_resume import (
    ATOMIC_BACKEND,
    AtomicLocalBackend,
    checkpoint_is_complete,
    resume_checkpoint,
)
from .sample_log_hook import SampleLogHook
from .stage_checkpoint_hook import InitFromStageHook, StageCheckpointMissing

__all__ = ['ATOMIC_BACKEND', 'CHECKPOINT_SAFE_GLOBALS', 'AtomicLocalBackend',
           'CPUDistributedDataParallel', 'GroupCountHook', 'InitFromStageHook',
           'InverseFrequencyWeightHook', 'SampleLogHook',
           'StageCheckpointMissing', 'UnreadableCheckpointError',
           'ViTLayerDecayOptimizerConstructor', 'checkpoint_is_complete',
           'finish_distributed', 'load_local_checkpoint',
           'prepare_cpu_distributed', 'register_checkpoint_safe_globals', 'resume_checkpoint']
