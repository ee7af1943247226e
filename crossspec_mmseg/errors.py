"""The errors raised for what a user downloaded, passed or typed.

Messages name the file or record, what is wrong and how to fix it; the
converter CLIs print them as one line and exit 1.

* :class:`BadInputError`: one image/slide (or one of its records) cannot be
  used. With ``skip_bad=True`` (``--skip-bad``) it is recorded in
  ``skipped.csv`` and the run goes on.
* :class:`BadDownloadError`: the download as a whole is unusable (no such
  folder, a table without its columns, a record given twice), or the output
  folder holds another conversion: nothing can be skipped, the input must be
  fixed.
* :class:`BadWeightsError`: a model weights file (a foundation encoder's) is
  missing (:class:`MissingWeightsError`), damaged, of another architecture or
  of another checksum; the training, test and slide tools print it as one line.
"""
__all__ = ['BadInputError', 'MissingInputError', 'BadDownloadError', 'MissingDownloadError',
           'BadWeightsError', 'MissingWeightsError']


class BadInputError(ValueError):
    """A raw input (file or record) that cannot be converted."""


class MissingInputError(BadInputError, FileNotFoundError):
    """A file one image/slide needs is absent."""


class BadDownloadError(ValueError):
    """The download (or a table in it) is unusable as a whole."""


class MissingDownloadError(BadDownloadError, FileNotFoundError):
    """The download folder, or a file the whole conversion needs, is absent."""



class BadWeightsError(ValueError):
    """A model weights file that cannot be used (damaged, foreign, wrong checksum)."""


class MissingWeightsError(BadWeightsError, FileNotFoundError):
    """A model weights file the config names is absent."""
