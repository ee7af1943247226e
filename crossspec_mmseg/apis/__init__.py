"""Train and test a loaded config: what tools/train.py, tools/test.py and
tools/run_study.py run (in this process, or in each torchrun process)."""
from .runs import test_segmentor, train_segmentor

__all__ = ['test_segmentor', 'train_segmentor']
