"""Installs crossspec_mmseg. Use ``make install`` for the full stack (mmcv is
built from source there); ``pip install -e .`` inside that venv also works."""
from pathlib import Path

from setuptools import find_packages, setup


def read_requirements(name):
    """Requirement lines of ``requirements/<name>.txt`` (comments dropped)."""
    path = Path(__file__).parent / 'requirements' / f'{name}.txt'
    reqs = [line.split('#')[0].strip() for line in path.read_text().splitlines()]
    return [r for r in reqs if r]


version = {}
exec(Path(__file__).with_name('crossspec_mmseg').joinpath('version.py').read_text(), version)

setup(
    name='crossspec_mmseg',
    version=version['__version__'],
    description='Cross-species histopathology segmentation for MMSegmentation 1.x',
    long_description=Path(__file__).with_name('README.md').read_text(),
    long_description_content_type='text/markdown',
    python_requires='>=3.9',
    packages=find_packages(include=['crossspec_mmseg', 'crossspec_mmseg.*']),
    package_data={'crossspec_mmseg': ['resources/*.csv']},
    include_package_data=False,
    # setuptools is a build pin of the stack (scripts/install.sh), not a runtime need.
    install_requires=[r for r in read_requirements('runtime') if not r.startswith('setuptools')]
    + ['mmcv==2.1.0'],
    extras_require={'tests': read_requirements('tests'),
                    # LoRA and other parameter-efficient adapters (peft brings transformers)
                    'adapters': ['peft>=0.13'],
                    # slides in formats tifffile cannot read (MRXS, SCN, ...)
                    'openslide': ['openslide-python', 'openslide-bin']},
    license='Apache-2.0',
    license_files=['LICENSE'],
)
