"""studies/foundation_cross_species.py: encoder x regime x NuInsSeg's folds, the
ResNet rows on the encoders' 0.5 um/px data, human and mouse reported apart.
Nothing trains here (the configs' own training: tests/configs/test_foundation_configs.py)."""
import os
import os.path as osp

import pytest

from crossspec_mmseg.structures import write_manifest
from crossspec_mmseg.study import load_study
from crossspec_mmseg.study.plan import build_stage_config, not_converted
from helpers import REPO, run_tool

STUDY = 'studies/foundation_cross_species.py'


def test_dry_run_lists_every_encoder_regime_and_fold(tmp_path):
    proc = run_tool(['tools/run_study.py', STUDY, '--dry-run', '--work-dir', str(tmp_path)], '',
                    fresh=False)
    lines = proc.stdout.strip().splitlines()
    assert lines[-1] == f'{7 * 2 * 5} cells'  # (ResNet + 3 presets x 2 tunings) x 2 x 5 folds
    for encoder in ('ImageNet ResNet-50', 'UNI, lora', 'Virchow2, frozen', 'H-optimus-0, lora'):
        for regime in ('separate', 'combined'):
            assert sum(encoder in line and f'/ {regime}' in line for line in lines) == 5


@pytest.fixture
def workdir(tmp_path):
    for name in ('configs', 'studies'):
        os.symlink(osp.join(REPO, name), tmp_path / name)
    rows = [dict(image=f'images/{i}.png', mask=f'masks/{i}.png', dataset='nuinsseg',
                 species=('human', 'mouse')[i % 2], organ='kidney', slide=f's{i}', case=f'c{i}',
                 split='', fold=f'fold{i % 5}', x=0, y=0, width=256, height=256, scale=1,
                 mpp='0.5') for i in range(20)]  # a conversion at 0.5 um/px (rows only)
    os.makedirs(tmp_path / 'data' / 'nuinsseg_mpp0.5')
    write_manifest(str(tmp_path / 'data' / 'nuinsseg_mpp0.5' / 'manifest.csv'), rows)
    old = os.getcwd()
    os.chdir(tmp_path)
    yield tmp_path
    os.chdir(old)


def test_every_row_reads_the_same_data_and_reports_both_species(workdir):
    study = load_study(STUDY)
    study.work_dir = str(workdir / 'study')
    assert study.report == ['species+organ/human+kidney', 'species+organ/mouse+kidney']
    cells = {(c.run.model, c.run.arm): c for c in study.cells()  # fold 0 of the ResNet
             if c.fold == 0 and c.run.model.startswith(('ImageNet', 'UNI, lora'))}  # and UNI
    assert len(cells) == 4
    roots = set()
    for (model, arm), cell in cells.items():
        cfg = build_stage_config(study, cell, 'train')
        roots |= {cfg[f'{loader}_dataloader'].dataset.data_root
                  for loader in ('train', 'val', 'test') if cfg.get(f'{loader}_dataloader')}
        assert cfg.train_mpp == 0.5 and tuple(cfg.model.data_preprocessor.size) == (256, 256)
        expected = 'ResNetV1c' if model.startswith('ImageNet') else 'FoundationViT'
        assert cfg.model.backbone.type == expected
        assert cfg.train_dataloader.dataset.regime['mode'] == arm
        assert not_converted(cfg) == []
    assert roots == {'data/nuinsseg_mpp0.5'}
