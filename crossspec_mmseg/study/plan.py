"""A study file and its cells: configs (models x arms) x folds x seeds.

An *arm* is a study's own name for one way of training (free text, e.g.
``'pretrain > finetune'`` or ``'separate + HED'``); a *regime* is one of the
package's six dataset modes (:mod:`crossspec_mmseg.datasets.regimes`) that a
config selects. A study file is a small Python config (read by mmengine's
``Config``)::

    work_dir = 'work_dirs/study_demo'
    folds = dict(k=3, by='case')          # the default; 'fold' (the manifest's folds); or
                                          # None: each config's own splits, seeds replicate
    seeds = [0]
    baseline = 'separate'                 # the arm every other is compared with
    report = ['species/human', 'species/mouse']   # metric prefixes ('' = overall)
    metrics = dict(mIoU='mIoU', Dice='Dice.nucleus')  # column -> metric name
    options = {'train_cfg.max_iters': 200}           # for every cell (--cfg-options syntax)
    runs = [
        dict(model='DeepLabV3+', arm='separate', config='configs/demo/demo_separate.py'),
        dict(model='DeepLabV3+', arm='pretrain > finetune',
             config='configs/demo/demo_finetune.py', pretrain='configs/demo/demo_pretrain.py'),
        dict(model='DeepLabV3+', arm='separate + HED', config='configs/demo/demo_separate.py',
             pipeline='train_pipeline_hed'),
    ]

Folds split the rows of one manifest (``folds.manifest``, default the
baseline's training manifest): datasets reading it train on the fold's
training rows and validate/test on its test rows; datasets of other
manifests keep their own filters. Each cell's config is written in full to
its folder (``<work_dir>/<model>/<arm>/fold<k>-seed<s>/configs/``), so
what ran is on record. ``tools/cross_validate.py run`` is a study too: one
config, one arm, k folds, one seed (:mod:`.cross_validation`), cells in
``<work_dir>/fold<k>/``.
"""
from __future__ import annotations

import os
import os.path as osp
import re
import warnings
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

from mmengine.config import Config, ConfigDict

from ..datasets import dataset_parts, manifest_of, read_manifest
from ..utils import atomic_path
from .folds import fold_filters, folds_column

__all__ = ['Cell', 'Run', 'Study', 'check_study', 'load_study', 'stage_config']

RUN_KEYS = {'model', 'arm', 'config', 'pretrain', 'pipeline', 'options'}
#: ``Study.folds_by`` of a study file with ``folds = None``.
NO_FOLDS = 'none'
#: Where a cell works, below the study's work_dir.
CELL_DIR = '{model}/{arm}/fold{fold}-seed{seed}'


def slug(text: str) -> str:
    """A folder name for a model or arm name."""
    return re.sub(r'[^A-Za-z0-9.+-]+', '_', text).strip('_') or '_'


@dataclass(frozen=True)
class Run:
    """One model x arm: its config, optional stage-1 config and variations."""
    model: str
    arm: str
    config: str
    pretrain: Optional[str] = None
    pipeline: Optional[str] = None  # a training pipeline the config defines, by name
    options: dict = field(default_factory=dict, hash=False, compare=False)

    @property
    def name(self) -> str:
        return f'{self.model} / {self.arm}'


@dataclass(frozen=True)
class Cell:
    """One run on one fold with one seed, trained and tested in ``work``."""
    run: Run
    fold: int
    seed: int
    work: str

    @property
    def replicate(self) -> str:
        """The fold/seed name shared by every run's cell (pairs them in tests)."""
        return f'fold{self.fold}-seed{self.seed}'

    @property
    def stages(self) -> List[str]:
        return (['pretrain'] if self.run.pretrain else []) + ['train']


@dataclass
class Study:
    """A loaded, checked study file."""
    path: str
    work_dir: str
    runs: List[Run]
    baseline: str
    k: int
    folds_by: str
    manifest: Optional[str]
    seeds: List[int]
    report: List[str]
    metrics: Dict[str, str]
    options: dict
    cell_dir: str = CELL_DIR  # formatted with the model's and arm's slug, fold, seed
    _folds: Optional[tuple] = field(default=None, repr=False)

    def cells(self) -> List[Cell]:
        """Every run x fold x seed, baseline runs first."""
        runs = sorted(self.runs, key=lambda r: r.arm != self.baseline)
        return [Cell(run, k, seed, osp.join(self.work_dir, self.cell_dir.format(
                    model=slug(run.model), arm=slug(run.arm), fold=k, seed=seed)))
                for run in runs for k in range(self.k) for seed in self.seeds]

    def load_config(self, run: Run, stage: str = 'train') -> Config:
        """``run``'s config for ``stage`` with the study's and the run's options."""
        cfg = Config.fromfile(run.pretrain if stage == 'pretrain' else run.config)
        cfg.merge_from_dict(self.options)
        cfg.merge_from_dict(run.options)
        return cfg

    @property
    def folded(self) -> bool:
        """False for ``folds = None``: every config keeps its own splits."""
        return self.folds_by != NO_FOLDS

    def fold_filters(self) -> tuple:
        """(manifest path, [(train filters, test filters) per fold]), read once
        (``(None, [(None, None)])`` without folds)."""
        if not self.folded:
            return None, [(None, None)]
        if self._folds is None:
            manifest = self.manifest or training_manifests(
                self.load_config(self.baseline_runs()[0]))[0]
            self._folds = manifest, fold_filters(read_manifest(manifest), self.k, self.folds_by)
        return self._folds

    def baseline_runs(self) -> List[Run]:
        return [r for r in self.runs if r.arm == self.baseline]


def load_study(path: str) -> Study:
    """Read a study file; a clear ``ValueError`` naming it for anything wrong."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'no study file {path}')
    cfg = Config.fromfile(path)
    runs = []
    for i, entry in enumerate(cfg.get('runs') or []):
        entry = _renamed_run_keys(path, i, dict(entry))
        bad = set(entry) - RUN_KEYS
        if bad or not {'model', 'arm', 'config'} <= set(entry):
            optional = sorted(RUN_KEYS - {'model', 'arm', 'config'})
            raise ValueError(f'{path}: runs[{i}] needs model, arm, config and may have '
                             f'{optional}; got {sorted(entry)}')
        for key in ('config', 'pretrain'):
            if entry.get(key) and not osp.isfile(entry[key]):
                raise ValueError(f'{path}: runs[{i}] {key} {entry[key]} does not exist')
        entry = {k: v.to_dict() if isinstance(v, ConfigDict) else v for k, v in entry.items()}
        for key in ('config', 'pretrain'):  # as found from here; data roots stay relative
            if entry.get(key):
                entry[key] = osp.abspath(entry[key])
        runs.append(Run(**entry))
    if not runs:
        raise ValueError(f'{path}: no runs')
    names = [(r.model, r.arm) for r in runs]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f'{path}: model x arm listed twice: {twice}')
    baseline = cfg.get('baseline', runs[0].arm)
    missing = sorted({r.model for r in runs} - {r.model for r in runs if r.arm == baseline})
    if missing:
        raise ValueError(f'{path}: baseline arm {baseline!r} has no run for models {missing}')
    unfolded = 'folds' in cfg and cfg.folds is None
    folds = dict(cfg.get('folds') or {})
    if 'split_by' in folds:
        _warn_renamed(path, "folds=dict(split_by=...)", "folds=dict(by=...)")
        folds.setdefault('by', folds.pop('split_by'))
    unknown = set(folds) - {'k', 'by', 'manifest'}
    if unknown:
        raise ValueError(f'{path}: folds has unknown keys {sorted(unknown)} (k, by, manifest)')
    metrics = dict(cfg.get('metrics') or dict(mIoU='mIoU', mDice='mDice'))
    return Study(path=path, work_dir=cfg.get('work_dir') or osp.join(
                     'work_dirs', osp.splitext(osp.basename(path))[0]),
                 runs=runs, baseline=baseline, k=1 if unfolded else int(folds.get('k', 3)),
                 folds_by=NO_FOLDS if unfolded else folds_column(folds.get('by')),
                 manifest=folds.get('manifest'),
                 seeds=[int(s) for s in cfg.get('seeds', [0])],
                 report=list(cfg.get('report', [''])), metrics=metrics,
                 options=dict(cfg.get('options') or {}))


def _renamed_run_keys(path: str, i: int, entry: dict) -> dict:
    """A run entry with ``regime=`` (the old name of ``arm=``) read, warned."""
    if 'regime' in entry and 'arm' not in entry:
        _warn_renamed(path, f'runs[{i}] regime=', 'arm=')
        entry['arm'] = entry.pop('regime')
    return entry


def _warn_renamed(path: str, old: str, new: str) -> None:
    warnings.warn(f'{path}: {old} is deprecated and goes in the next release: use {new} (a '
                  "study's arms are its own labels; regimes are the package's dataset modes)",
                  DeprecationWarning, stacklevel=4)


def training_manifests(cfg: Config) -> List[str]:
    return [manifest_of(p) for p in dataset_parts(cfg.train_dataloader.dataset)]


def build_stage_config(study: Study, cell: Cell, stage: str,
                       load_from: Optional[str] = None) -> Config:
    """The full config of ``cell``'s ``stage`` ('pretrain' or 'train'); a
    ``ValueError`` naming the study and run for a config the study cannot use."""
    run = cell.run
    cfg = study.load_config(run, stage)
    manifest, folds = study.fold_filters()
    train_rows, test_rows = folds[cell.fold]
    if run.pipeline:
        if run.pipeline not in cfg:
            raise ValueError(f'{study.path}: {run.name}: {cfg.filename} defines no pipeline '
                             f'{run.pipeline!r}')
        for part in dataset_parts(cfg.train_dataloader.dataset):
            part['pipeline'] = cfg[run.pipeline]
    for loader, rows in (('train_dataloader', train_rows), ('val_dataloader', test_rows),
                         ('test_dataloader', test_rows)):  # val: when a checkpoint needs it
        if cfg.get(loader) is None or not study.folded:
            continue
        parts = [p for p in dataset_parts(cfg[loader].dataset)
                 if manifest_of(p) == osp.normpath(manifest)]
        if not parts and loader == 'test_dataloader':  # (a stage 1 may train on others)
            raise ValueError(f'{study.path}: {run.name}: no {loader} dataset of {cfg.filename} '
                             f'reads the folds\' manifest {manifest}')
        for part in parts:
            part['filters'] = dict(rows)
    if study.folded and not (cfg.get('default_hooks') or {}).get('checkpoint', {}).get(
            'save_best'):
        # The cell is tested on its test rows after training: validating on them too
        # would only repeat the test.
        cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.randomness = dict(cfg.get('randomness') or {}, seed=cell.seed)
    if load_from:
        cfg.load_from = load_from
    cfg.work_dir = osp.join(cell.work, stage) if stage == 'pretrain' else cell.work
    # A name per cell and stage (mmengine appends the time): several runners share
    # one process, and with it their logger and visualizer instances by name.
    cfg.experiment_name = f'{slug(run.model)}_{slug(run.arm)}_{cell.replicate}_{stage}'
    return cfg


#: The converters of tools/dataset_converters/, by the dataset types they make
#: (a type's lower-case name starts with its converter's).
CONVERTERS = ('consep', 'hubmap', 'lizard', 'monusac', 'nuinsseg', 'orbit', 'pannuke')
#: Converter flags a dataset type needs beyond the download and the output folder.
CONVERTER_FLAGS = {'HuBMAPAnatomyDataset': ['--anatomy'],
                   'NuInsSegContourDataset': ['--contour', '2']}


def converter_command(part: dict) -> Optional[str]:
    """The command that makes the manifest ``part`` (a dataset config) reads,
    or None for a dataset type no converter makes."""
    kind = str(part.get('type', ''))
    name = kind[:-len('Dataset')].lower() if kind.endswith('Dataset') else kind.lower()
    converter = next((c for c in CONVERTERS if name.startswith(c)), None)
    if converter is None:
        return None
    args = [f'tools/dataset_converters/{converter}.py', 'RAW_DIR',
            osp.dirname(manifest_of(part)) or '.', *CONVERTER_FLAGS.get(kind, [])]
    mpp = (part.get('filters') or {}).get('mpp')  # the um/px the config keeps
    if isinstance(mpp, (str, int, float)) and str(mpp):
        args += ['--mpp', str(mpp)]
    return 'python ' + ' '.join(args)


def not_converted(cfg: Config) -> List[str]:
    """One phrase per dataset of ``cfg``'s loaders whose manifest (a local
    file) is missing: the dataset, the manifest and the converter's command."""
    missing: Dict[str, str] = {}
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if not (cfg.get(loader) or {}).get('dataset'):
            continue
        for part in dataset_parts(cfg[loader].dataset):
            path = manifest_of(part)
            if path in missing or '://' in path or osp.isfile(path):
                continue
            command = converter_command(part)
            missing[path] = (f"{part.get('type', 'a dataset')} (manifest not found: {path}): "
                             + (command or 'convert its download with a converter under '
                                'tools/dataset_converters/ into ' + osp.dirname(path)))
    return list(missing.values())


def check_study(study: Study) -> None:
    """Build every run's stage configs for the first fold, so a study that
    cannot run stops before any training (missing manifest, pipeline, ...).
    A dataset not converted yet stops it first: a ``FileNotFoundError`` of
    one line naming it and its converter's command."""
    cells = [c for c in study.cells() if c.fold == 0 and c.seed == study.seeds[0]]
    for cell in cells:
        for stage in cell.stages:
            missing = not_converted(study.load_config(cell.run, stage))
            if missing:
                what = 'a dataset' if len(missing) == 1 else f'{len(missing)} datasets'
                raise FileNotFoundError(f'{study.path}: {cell.run.name} ({stage}) needs {what} '
                                        'not converted yet: ' + '; '.join(missing))
    for cell in cells:
        for stage in cell.stages:
            build_stage_config(study, cell, stage)


def stage_config(study: Study, cell: Cell, stage: str, load_from: Optional[str] = None) -> str:
    """Write the full config of ``cell``'s ``stage`` into its folder and
    return the path."""
    cfg = build_stage_config(study, cell, stage, load_from)
    # Not in a work dir: the runner writes its own copy there (as it ran).
    os.makedirs(osp.join(cell.work, 'configs'), exist_ok=True)
    path = osp.join(cell.work, 'configs', f'{stage}.py')
    with atomic_path(path) as tmp, open(tmp, 'w') as f:
        f.write(cfg.pretty_text)
    return path


def describe(cells: Sequence[Cell]) -> List[str]:
    """One line per cell, for ``--dry-run``."""
    return [f'{c.run.name:<40} {c.replicate:<14} {" -> ".join(c.stages):<18} {c.work}'
            for c in cells]
