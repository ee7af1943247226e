"""Studies: models x regimes x folds x seeds trained, tested and compared
(tools/run_study.py)."""
from .plan import Cell, Run, Study, check_study, load_study, stage_config

__all__ = ['Cell', 'Run', 'Study', 'check_study', 'load_study', 'stage_config']
