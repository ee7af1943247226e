"""LabelTree: the shipped nucleus tree and its datasets' cuts, the refusals, the old ``groups=``."""
import warnings

import pytest
import torch
from mmengine.config import Config

from crossspec_mmseg.models import HierarchicalFocalDiceLoss
from crossspec_mmseg.structures import NUCLEUS_TREE, LabelTree, nucleus_label_offset
from helpers import REPO

EPI = ['normal_epithelial', 'neoplastic_epithelial']
IMMUNE = ['lymphocyte', 'macrophage', 'neutrophil', 'plasma', 'eosinophil', 'other_immune']
STROMAL = ['fibroblast', 'muscle', 'endothelial', 'other_stromal']
NUCLEI = EPI + IMMUNE + STROMAL + ['necrotic']

#: Written from the spec (docs/losses.md table), not from the tree: per dataset, each
#: label id's leaves.
EXPECTED = {
    'pannuke': [['background'], ['neoplastic_epithelial'], IMMUNE, STROMAL, ['necrotic'],
                ['normal_epithelial']],
    'consep': [['background'], NUCLEI, IMMUNE, ['normal_epithelial'], ['neoplastic_epithelial'],
               ['fibroblast'], ['muscle'], ['endothelial']],
    'monusac': [['background'] + STROMAL + ['plasma', 'eosinophil', 'other_immune', 'necrotic'],
                EPI, ['lymphocyte'], ['neutrophil'], ['macrophage']],
    'lizard': [['background', 'macrophage', 'other_immune', 'necrotic'], ['neutrophil'], EPI,
               ['lymphocyte'], ['plasma'], ['eosinophil'], STROMAL],
    'nuinsseg': [['background'], NUCLEI],
}
OFFSETS = dict(pannuke=0, consep=6, monusac=14, lizard=19, nuinsseg=26)


def test_nucleus_tree_cuts_in_each_datasets_id_order():
    tree = LabelTree.build('nucleus')
    assert tree.leaves == ['background'] + NUCLEI
    assert tree.offsets == OFFSETS
    for name, labels in EXPECTED.items():
        assert nucleus_label_offset(name) == OFFSETS[name]
        rows = tree.node_leaves[OFFSETS[name]:OFFSETS[name] + len(labels)]
        assert [sorted(tree.leaves[i] for i in row) for row in rows] == \
            [sorted(leaves) for leaves in labels], name
    assert tree.num_nodes == 28
    # Only CoNSeP's "other" (node 6 + 1) overlaps its set; NuInsSeg's nucleus is a class.
    assert tree.detection_only.nonzero().flatten().tolist() == [7]


def test_leaf_to_label_prefers_the_partitioning_node():
    tree = LabelTree.build('nucleus')
    consep = dict(zip(tree.leaves, tree.leaf_to_label('consep').tolist()))
    assert consep['lymphocyte'] == 2 and consep['muscle'] == 6
    assert consep['other_stromal'] == consep['necrotic'] == 1  # only "other" holds them
    monusac = dict(zip(tree.leaves, tree.leaf_to_label('monusac').tolist()))
    assert monusac['fibroblast'] == monusac['plasma'] == 0 and monusac['macrophage'] == 4
    last = LabelTree(['bg', 'a', 'b', 'c'], dict(ab=['a', 'b'], n=['ab', 'c']),
                     dict(s=['bg', 'a', 'n']), unknown='n')  # unknown node listed last
    assert last.leaf_to_label('s').tolist() == [0, 1, 2, 2]
    assert last.detection_only.tolist() == [False, False, True]


def test_build_accepts_a_name_a_dict_or_a_tree_and_refuses_unknown_names():
    tree = LabelTree.build(NUCLEUS_TREE)
    assert LabelTree.build(tree) is tree and tree.offsets == LabelTree.build('nucleus').offsets
    with pytest.raises(ValueError, match="no label tree named 'cells'"):
        LabelTree.build('cells')
    with pytest.raises(KeyError, match="no label set 'conic'"):
        tree.offset_of('conic')
    with pytest.raises(KeyError, match="no nuclei dataset 'conic'"):
        nucleus_label_offset('conic')


def edited(**changes):
    """The nucleus tree with some entries replaced (a user's own tree)."""
    spec = {k: (dict(v) if isinstance(v, dict) else v) for k, v in NUCLEUS_TREE.items()}
    for key, value in changes.items():
        if isinstance(value, dict) and key in ('nodes', 'label_sets', 'backgrounds'):
            spec[key] = {**spec[key], **value}
        else:
            spec[key] = value
    return spec


@pytest.mark.parametrize('spec, message', [
    (edited(nodes=dict(stromal=STROMAL + ['lymphocyte'])),
     "'lymphocyte' is under two nodes, 'immune' and 'stromal'"),
    (dict(leaves=['bg', 'a'], nodes=dict(x=['y'], y=['x', 'a'])),
     r"node 'x' contains itself \(x -> y -> x\)"),
    (edited(nodes=dict(immune=IMMUNE + ['mast_cell'])),
     r"node 'immune' has unknown or no children \['mast_cell'\]"),
    (edited(nodes=dict(muscle=['fibroblast'])), "node 'muscle' has the name of a leaf"),
    (edited(label_sets=dict(x=['background', 'immune', 'lymphocyte', 'epithelial', 'stromal',
                                'other'])),
     r"label set 'x': 'lymphocyte' overlaps 'immune' \(leaf 'lymphocyte'\)"),
    (edited(label_sets=dict(x=['background', 'epithelial', 'immune', 'stromal'])),
     r"label set 'x' must cover every leaf: missing \['necrotic'\]"),
    (edited(label_sets=dict(x=['background', 'cells'])), "'cells' is neither a leaf, a node"),
    (edited(unknown='immunes'), "unknown='immunes' is not a node"),
    (edited(backgrounds=dict(lizard_background=['macrophage', 'other'])),
     "background group 'lizard_background' must hold the background leaf"),
    (edited(unknown=None), r"label set 'consep': 'immune' overlaps 'nucleus'"),
])
def test_a_tree_that_is_not_one_is_refused_naming_the_node(spec, message):
    with pytest.raises(ValueError, match=message):
        LabelTree(**spec)
    with pytest.raises(ValueError, match=message):  # the same from a loss config
        HierarchicalFocalDiceLoss(label_tree=spec)


def test_groups_is_the_old_name_of_nodes():
    old = dict(leaves=['background', 'a', 'b'], groups=dict(ab=['a', 'b']),
               label_sets=dict(fine=['background', 'a', 'b'], coarse=['background', 'ab']))
    with pytest.warns(DeprecationWarning, match=r'LabelTree\(groups=...\) is deprecated.*nodes='):
        tree = LabelTree(**old)
    assert tree.nodes == {'ab': ['a', 'b']} and tree.groups == {'ab': ['a', 'b']}
    with pytest.warns(DeprecationWarning, match='nodes='):  # in a config dict
        loss = HierarchicalFocalDiceLoss(label_tree=old)
    assert torch.equal(loss.tree.matrix, LabelTree(old['leaves'], dict(ab=['a', 'b']),
                                                   old['label_sets']).matrix)
    with pytest.raises(TypeError, match='give nodes= only'):
        LabelTree(['a'], nodes={}, groups={})


def test_shipped_configs_use_nodes():
    cfg = Config.fromfile(f'{REPO}/configs/_base_/regimes/kidney_layers_combined.py')
    with warnings.catch_warnings():
        warnings.simplefilter('error', DeprecationWarning)
        tree = LabelTree.build(cfg.label_tree)
    assert tree.offset_of('human') == 5
