"""InitFromStageHook on a real runner: stage 2 starts from stage 1's newest
complete checkpoint unless the run has its own load_from or resumes."""
import os.path as osp

import pytest
import torch

from crossspec_mmseg.engine import InitFromStageHook, StageCheckpointMissing
from crossspec_mmseg.utils.upstream import runner_load_from
from helpers import tiny_runner


@pytest.fixture
def stage1(tmp_path):
    folder = tmp_path / 'stage1'
    folder.mkdir()
    torch.save(dict(state_dict={}), folder / 'iter_2.pth')
    return str(folder)


@pytest.mark.parametrize('load_from, resume, expected', [
    (None, False, 'iter_2.pth'),  # stage 1's, found by itself
    ('own.pth', False, 'own.pth'),  # --cfg-options load_from=... wins
    (None, True, None),  # a resumed run is left alone
])
def test_stage2_starts_from_stage1(stage1, tmp_path, load_from, resume, expected):
    runner = tiny_runner(tmp_path / 'stage2', load_from=load_from, resume=resume)
    InitFromStageHook(stage1).before_run(runner)
    if expected == 'iter_2.pth':
        expected = osp.join(stage1, expected)
    assert runner_load_from(runner) == expected


def test_no_stage1_checkpoint_is_an_error(tmp_path):
    runner = tiny_runner(tmp_path / 'stage2')
    with pytest.raises(StageCheckpointMissing, match='train stage1.py first'):
        InitFromStageHook(str(tmp_path / 'empty'), config='stage1.py').before_run(runner)
