"""Installs crossspec_mmseg. Use ``make install`` for the full stack (mmcv is
built from source there); ``pip install -e .`` inside that venv also works."""
from pathlib import Path

from setuptools import find_packages, setup


def read_requirements():
    lines = Path(__file__).with_name('requirements.txt').read_text().splitlines()
    reqs = [line.split('#')[0].strip() for line in lines]
    runtime = [r for r in reqs if r and not r.startswith(('setuptools', 'pytest', 'scikit-learn'))]
    return runtime + ['mmcv==2.1.0']


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
    install_requires=read_requirements(),
    extras_require={'tests': ['pytest', 'scikit-learn']},
    license='Apache-2.0',
    license_files=['LICENSE'],
)
