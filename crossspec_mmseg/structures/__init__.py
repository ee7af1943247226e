"""Data types shared by losses, metrics and datasets."""
from .label_tree import LabelTree

__all__ = ['LabelTree']
