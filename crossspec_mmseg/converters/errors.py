"""The error every converter raises for a raw file or record it cannot use.

Messages name the file or record, what is wrong and how to fix it. Converters
run with ``skip_bad=True`` (``--skip-bad``) record these per image/slide in
``skipped.csv`` and go on; any other exception still stops the run.
"""

__all__ = ['BadInputError', 'MissingInputError']


class BadInputError(ValueError):
    """A raw input (file or record) that cannot be converted."""


class MissingInputError(BadInputError, FileNotFoundError):
    """A file one image/slide needs is absent."""
