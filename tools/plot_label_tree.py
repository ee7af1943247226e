"""Draw a shipped label tree and each label set's cut; print the cuts as Markdown.

    python tools/plot_label_tree.py docs/images/nucleus_tree.png [--tree nucleus]
    python tools/plot_label_tree.py --table [--tree nucleus]

The picture: the tree (nodes above their leaves), then one row per label set
giving, under each leaf, the set's label id that holds it (``*``: the
unknown-type label, a detection label). The table (docs/losses.md): one row
per leaf, one column per label set (``label_offset`` in brackets).
"""
import argparse
import sys
from typing import Dict, List

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402

from crossspec_mmseg.structures import NUCLEUS_CLASSES, LabelTree  # noqa: E402
from crossspec_mmseg.structures.nucleus_tree import NAMED_TREES  # noqa: E402


def class_names(tree_name: str, tree: LabelTree) -> Dict[str, List[str]]:
    """Per label set, its classes' own names (the datasets' for the nucleus tree)."""
    if tree_name == 'nucleus':
        return {name: [c for c, _ in classes] for name, classes in NUCLEUS_CLASSES.items()}
    return {name: list(nodes) for name, nodes in tree.label_sets.items()}


def cut_cells(tree: LabelTree, label_set: str, names: List[str]) -> List[str]:
    """Per leaf, ``'<id> <class>'`` of the set's label holding it (``*``: unknown type)."""
    offset = tree.offset_of(label_set)
    cells = []
    for j in tree.leaf_to_label(label_set).tolist():
        star = '*' if bool(tree.detection_only[offset + j]) else ''
        cells.append(f'{j} {names[j]}{star}')
    return cells


def markdown_table(tree_name: str) -> str:
    tree = LabelTree.build(tree_name)
    names = class_names(tree_name, tree)
    parent = {c: n for n, children in tree.nodes.items() for c in children}
    head = ['leaf', 'parent'] + [f'{s} ({tree.offset_of(s)})' for s in tree.label_sets]
    columns = [cut_cells(tree, s, names[s]) for s in tree.label_sets]
    lines = ['| ' + ' | '.join(head) + ' |', '|' + ' --- |' * len(head)]
    for i, leaf in enumerate(tree.leaves):
        row = [leaf, parent.get(leaf, '-')] + [col[i] for col in columns]
        lines.append('| ' + ' | '.join(row) + ' |')
    return '\n'.join(lines) + '\n'


def node_positions(tree: LabelTree) -> Dict[str, tuple]:
    """(x, y) of every leaf and node: leaves on y = 0, a node above its children."""
    parent = {c: n for n, children in tree.nodes.items() for c in children}

    def depth(name):
        return 0 if name not in parent else 1 + depth(parent[name])

    top = max(depth(leaf) for leaf in tree.leaves)
    pos = {leaf: (float(i), 0.0) for i, leaf in enumerate(tree.leaves)}

    def place(name):
        if name not in pos:
            xs = [place(c)[0] for c in tree.nodes[name]]
            pos[name] = (sum(xs) / len(xs), float(top - depth(name)))
        return pos[name]

    for name in tree.nodes:
        place(name)
    return pos


def plot(tree_name: str, out: str) -> None:
    tree = LabelTree.build(tree_name)
    pos = node_positions(tree)
    sets = list(tree.label_sets)
    fig, ax = plt.subplots(figsize=(13, 7), dpi=100)
    box = dict(boxstyle='round,pad=0.3', fc='#eef3fb', ec='#4a6fa5')
    for name, children in tree.nodes.items():
        for child in children:
            ax.plot(*zip(pos[name], pos[child]), color='#4a6fa5', lw=1.2, zorder=1)
    for name, (x, y) in pos.items():
        is_leaf = name in tree.leaves
        ax.text(x, y, name.replace('_', '\n'), ha='center', va='center', zorder=2,
                fontsize=8 if is_leaf else 10, bbox=box if not is_leaf else dict(box, fc='white'),
                fontweight='normal' if is_leaf else 'bold')
    cmap = plt.get_cmap('tab10')
    names = class_names(tree_name, tree)
    for r, label_set in enumerate(sets):
        y = -1.2 - 0.6 * r
        ax.text(-0.8, y, f'{label_set} (+{tree.offset_of(label_set)})', ha='right', va='center',
                fontsize=9)
        for i, cell in enumerate(cut_cells(tree, label_set, names[label_set])):
            j = int(cell.split()[0])
            ax.text(i, y, cell.split()[0] + ('*' if cell.endswith('*') else ''), ha='center',
                    va='center', fontsize=9, bbox=dict(boxstyle='square,pad=0.35',
                                                       fc=cmap(j % 10), alpha=0.45, ec='none'))
    ax.text(len(tree.leaves) / 2 - 0.5, -1.2 - 0.6 * len(sets),
            'rows: label id of the dataset class holding each leaf (* unknown type: detection '
            'only)', ha='center', va='center', fontsize=8, style='italic')
    ax.set_xlim(-3.2, len(tree.leaves) - 0.4)
    ax.set_ylim(-1.6 - 0.6 * len(sets), max(y for _, y in pos.values()) + 0.6)
    ax.axis('off')
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('out', nargs='?', help='PNG to write')
    parser.add_argument('--tree', default='nucleus', choices=sorted(NAMED_TREES))
    parser.add_argument('--table', action='store_true', help='print the Markdown table')
    args = parser.parse_args(argv)
    if not args.out and not args.table:
        parser.error('give OUT.png, --table, or both')
    if args.table:
        sys.stdout.write(markdown_table(args.tree))
    if args.out:
        plot(args.tree, args.out)
    return 0


if __name__ == '__main__':
    sys.exit(main())
