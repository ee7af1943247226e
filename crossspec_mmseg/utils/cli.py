"""Deprecated: the train/test tools' helpers moved to :mod:`crossspec_mmseg.apis.cli`
(``utils`` is the lowest floor and may not import ``engine``). Importing from
here warns; this module goes in the next release."""
from .deprecation import moved_name


def __getattr__(name: str):
    from ..apis import cli  # the one arrow up a floor, for the deprecation only
    return moved_name(__name__, cli, name)
