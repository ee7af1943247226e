"""The input errors converters raise (defined in :mod:`crossspec_mmseg.errors`,
shared with slide reading) and the download-folder check."""
import os.path as osp

from ..errors import BadDownloadError, BadInputError, MissingDownloadError, MissingInputError

__all__ = ['BadInputError', 'MissingInputError', 'BadDownloadError', 'MissingDownloadError',
           'require_folder']


def require_folder(path: str, expected: str) -> None:
    """Raise :class:`MissingDownloadError` unless ``path`` is a folder.

    Args:
        path: The raw download folder a user passed.
        expected: What it should hold, for the message (e.g. ``'train/,
            train.csv'``).
    """
    if not osp.isdir(path):
        what = 'is a file, not a folder' if osp.exists(path) else 'does not exist'
        raise MissingDownloadError(f'{path} {what}: pass the unpacked download (with {expected})')
