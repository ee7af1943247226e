"""tools/plot_label_tree.py: the picture and the table docs/losses.md shows."""
import os.path as osp

from PIL import Image

from helpers import REPO, run_tool

DOC_IMAGE = osp.join(REPO, 'docs', 'images', 'nucleus_tree.png')


def test_plot_writes_a_png_like_the_committed_one(tmp_path):
    out = tmp_path / 'tree.png'
    run_tool(['tools/plot_label_tree.py', str(out)], str(tmp_path), fresh=False)
    with Image.open(out) as image:
        size = image.size
        image.verify()
    assert 1000 <= size[0] <= 2000 and 500 <= size[1] <= 1200, size
    with Image.open(DOC_IMAGE) as committed:
        assert committed.size == size  # regenerate with the command above when it changes


def test_docs_show_the_generated_table():
    proc = run_tool(['tools/plot_label_tree.py', '--table'], REPO, fresh=False)
    table = proc.stdout
    assert '| other_stromal | stromal | 3 connective | 1 other* | 0 background |' in table
    assert len(table.splitlines()) == 2 + 14  # header, rule, one row per leaf
    with open(osp.join(REPO, 'docs', 'losses.md')) as f:
        assert table in f.read(), 'docs/losses.md: paste `python tools/plot_label_tree.py --table`'


def test_no_output_is_a_usage_error(tmp_path):
    proc = run_tool(['tools/plot_label_tree.py'], str(tmp_path), fresh=False, check=False)
    assert proc.returncode == 2 and 'give OUT.png, --table, or both' in proc.stderr
