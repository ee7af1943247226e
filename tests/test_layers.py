"""The package's floors: a module imports from its own floor or below, never up
(parsed with ``ast``, so lazy imports inside functions count too); names moved
down a floor still import from their old place, with a warning where it was a
module path."""
import ast
import os
import os.path as osp
import warnings

import pytest

from helpers import REPO

PACKAGE = 'crossspec_mmseg'
#: Lowest first. 0: what every part shares (the tile manifest, label tree, instance
#: maps, atomic writes); 1: the MMSeg/mmengine components and the slide/converter
#: library; 2: what runs models over data (studies, whole-slide inference);
#: 3: what the tools call.
FLOORS = {
    0: ('errors', 'version', 'utils', 'structures'),
    1: ('slides', 'converters', 'datasets', 'models', 'evaluation', 'engine', 'samplers',
        'demo'),
    2: ('study', 'inference'),
    3: ('apis',),
}
FLOOR = {name: floor for floor, names in FLOORS.items() for name in names}
#: ``crossspec_mmseg/__init__.py`` imports the components to register them: above all.
TOP = max(FLOORS) + 1
#: Arrows up a floor that are there on purpose: (module, part it imports) -> why.
ALLOWED_UP = {
    ('crossspec_mmseg.evaluation.cross_validation', 'study'):
        'deprecated names of fold planning, moved to crossspec_mmseg.study',
}


def modules():
    """``(path, dotted name, is a package)`` of every module of the package."""
    for folder, dirs, files in os.walk(osp.join(REPO, PACKAGE)):
        dirs[:] = sorted(d for d in dirs if d != '__pycache__')
        for name in sorted(f for f in files if f.endswith('.py')):
            path = osp.join(folder, name)
            parts = osp.relpath(path, REPO)[:-len('.py')].split(os.sep)
            is_package = parts[-1] == '__init__'
            yield path, '.'.join(parts[:-1] if is_package else parts), is_package


def imported(module, is_package, node):
    """The absolute names an ``import``/``from ... import`` statement of ``module`` reads."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level == 0:
        return [node.module]
    package = module.split('.') if is_package else module.split('.')[:-1]
    base = package[:len(package) - node.level + 1]
    if node.module:
        return ['.'.join(base + node.module.split('.'))]
    return ['.'.join(base + [alias.name]) for alias in node.names]  # from . import x


def floor_of(name):
    parts = name.split('.')
    return TOP if len(parts) == 1 else FLOOR[parts[1]]


def test_every_part_of_the_package_has_a_floor():
    root = osp.join(REPO, PACKAGE)
    parts = {name[:-len('.py')] if name.endswith('.py') else name for name in os.listdir(root)
             if name.endswith('.py') and name != '__init__.py'
             or osp.isfile(osp.join(root, name, '__init__.py'))}
    assert parts == set(FLOOR), 'give each new part of the package a floor in FLOORS'


def test_no_import_goes_up_a_floor():
    up, used = [], set()
    for path, module, is_package in modules():
        with open(path) as f:
            tree = ast.parse(f.read(), path)
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            for name in imported(module, is_package, node):
                if name.split('.')[0] != PACKAGE or floor_of(name) <= floor_of(module):
                    continue
                key = (module, name.split('.')[1])
                if key in ALLOWED_UP:
                    used.add(key)
                else:
                    up.append(f'{osp.relpath(path, REPO)}:{node.lineno} imports {name} '
                              f'(floor {floor_of(module)} -> {floor_of(name)})')
    assert not up, '\n'.join(up)
    assert used == set(ALLOWED_UP), f'no longer needed: {set(ALLOWED_UP) - used}'


def test_imports_resolve_relative_to_their_module():
    node = ast.parse('from ...datasets.inverse_frequency import x').body[0]
    assert imported('crossspec_mmseg.models.segmentors.m', False, node) == [
        'crossspec_mmseg.datasets.inverse_frequency']
    node = ast.parse('from . import datasets, engine').body[0]
    assert imported('crossspec_mmseg', True, node) == ['crossspec_mmseg.datasets',
                                                       'crossspec_mmseg.engine']
    node = ast.parse('from ..apis import cli').body[0]
    assert imported('crossspec_mmseg.utils', True, node) == ['crossspec_mmseg.apis']


@pytest.mark.parametrize('old, new, name', [
    ('crossspec_mmseg.datasets.manifest', 'crossspec_mmseg.structures.manifest', 'read_manifest'),
    ('crossspec_mmseg.datasets.manifest', 'crossspec_mmseg.structures.manifest', 'Filters'),
])
def test_moved_modules_still_import_with_a_warning(old, new, name):
    import importlib
    old_module, new_module = importlib.import_module(old), importlib.import_module(new)
    with pytest.warns(DeprecationWarning, match=f'{old} is deprecated.*{name} from {new}') as w:
        value = getattr(old_module, name)
    assert value is getattr(new_module, name)
    assert w[0].filename == __file__  # the warning names the importing line
    for hidden in ('nothing_like_this', '_private', 'csv', '__path__'):
        with pytest.raises(AttributeError):
            getattr(old_module, hidden)


def test_moved_names_stay_in_the_package_namespaces_without_a_warning():
    from crossspec_mmseg import structures
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        from crossspec_mmseg.datasets import (
            MANIFEST_COLUMNS,
            filter_rows,
            read_manifest,
            write_manifest,
        )
        from crossspec_mmseg.evaluation import count_components
    assert read_manifest is structures.read_manifest and write_manifest is structures.write_manifest
    assert filter_rows is structures.filter_rows and MANIFEST_COLUMNS is structures.MANIFEST_COLUMNS
    assert count_components is structures.count_components
