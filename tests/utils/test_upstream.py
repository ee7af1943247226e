"""The private mmengine/MMSeg attributes the package relies on, read through
``crossspec_mmseg.utils.upstream`` on the real objects: an upgrade that renames
one fails here, and the accessors then say so instead of misbehaving."""
from unittest import mock

import mmengine
import pytest
import torch
from mmengine.model import ImgDataPreprocessor
from mmseg.models import SegDataPreProcessor

from crossspec_mmseg.utils.upstream import (
    preprocessor_normalizes,
    runner_load_from,
    runner_resumes,
    set_runner_load_from,
)
from helpers import tiny_runner


@pytest.mark.parametrize('resume', [False, True])
def test_runner_accessors_are_what_the_runner_loads(tmp_path, resume):
    runner = tiny_runner(tmp_path, load_from=None, resume=resume)
    assert runner_load_from(runner) is None and runner_resumes(runner) is resume
    set_runner_load_from(runner, 'stage1.pth')
    assert runner_load_from(runner) == 'stage1.pth'
    with mock.patch.object(runner, 'load_checkpoint') as load, \
            mock.patch.object(runner, 'resume') as resumed:
        runner.load_or_resume()  # what mmengine does with them after before_run hooks
    if resume:
        assert resumed.call_args.args[0] == 'stage1.pth' and not load.called
    else:
        assert load.call_args.args[0] == 'stage1.pth' and not resumed.called


@pytest.mark.parametrize('accessor, attribute', [
    (runner_load_from, '_load_from'),
    (lambda runner: set_runner_load_from(runner, 'x.pth'), '_load_from'),
    (runner_resumes, '_resume'),
])
def test_a_runner_without_the_attribute_fails_loudly(tmp_path, accessor, attribute):
    runner = tiny_runner(tmp_path)
    delattr(runner, attribute)
    with pytest.raises(RuntimeError, match=rf'^mmengine {mmengine.__version__} changed: '
                                           rf'Runner\.{attribute} is gone; crossspec_mmseg'):
        accessor(runner)
    assert not hasattr(runner, attribute)  # the setter did not create it


@pytest.mark.parametrize('cls', [SegDataPreProcessor, ImgDataPreprocessor])
@pytest.mark.parametrize('normalize', [False, True])
def test_preprocessor_normalizes_is_what_it_does(cls, normalize):
    pre = cls(mean=[1.0] * 3, std=[2.0] * 3) if normalize else cls()
    out = pre(dict(inputs=[torch.full((3, 2, 2), 5, dtype=torch.uint8)]), False)['inputs']
    assert preprocessor_normalizes(pre) is normalize
    assert float(out.flatten()[0]) == (2.0 if normalize else 5.0)
    del pre._enable_normalize
    with pytest.raises(RuntimeError, match=rf'{cls.__name__}\._enable_normalize is gone'):
        preprocessor_normalizes(pre)
