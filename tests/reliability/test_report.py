"""docs/reliability.md is exactly what the reliability tests generate."""
import os.path as osp

from report import render

DOC = osp.join(osp.dirname(osp.abspath(__file__)), '..', '..', 'docs', 'reliability.md')


def test_reliability_page_matches_the_suite():
    assert open(DOC).read() == render(), \
        'regenerate: python tests/reliability/report.py > docs/reliability.md'
