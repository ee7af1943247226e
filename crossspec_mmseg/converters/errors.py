"""The errors converters raise for what a user downloaded or typed.

Messages name the file or record, what is wrong and how to fix it; the
converter CLIs print them as one line and exit 1.

* :class:`BadInputError`: one image/slide (or one of its records) cannot be
  used. With ``skip_bad=True`` (``--skip-bad``) it is recorded in
  ``skipped.csv`` and the run goes on.
* :class:`BadDownloadError`: the download as a whole is unusable (no such
  folder, a table without its columns, a record given twice), or the output
  folder holds another conversion: nothing can be skipped, the input must be
  fixed.
"""
import os.path as osp

__all__ = ['BadInputError', 'MissingInputError', 'BadDownloadError', 'MissingDownloadError',
           'require_folder']


class BadInputError(ValueError):
    """A raw input (file or record) that cannot be converted."""


class MissingInputError(BadInputError, FileNotFoundError):
    """A file one image/slide needs is absent."""


class BadDownloadError(ValueError):
    """The download (or a table in it) is unusable as a whole."""


class MissingDownloadError(BadDownloadError, FileNotFoundError):
    """The download folder, or a file the whole conversion needs, is absent."""


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
