"""Studies: models x arms x folds x seeds trained, tested and compared
(tools/run_study.py); k-fold cross-validation of one config is a one-run study
(tools/cross_validate.py run). Running the cells: :mod:`.runner`."""
from .cross_validation import cross_validation_study, read_fold_scores, write_cv_summary
from .folds import DEFAULT_FOLDS_BY, case_folds, fold_filters, folds_column, group_folds
from .plan import Cell, Run, Study, check_study, load_study, stage_config

__all__ = ['DEFAULT_FOLDS_BY', 'Cell', 'Run', 'Study', 'case_folds', 'check_study',
           'cross_validation_study', 'fold_filters', 'folds_column', 'group_folds', 'load_study',
           'read_fold_scores', 'stage_config', 'write_cv_summary']
