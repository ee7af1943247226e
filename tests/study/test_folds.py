"""The one fold planner: groups kept whole and balanced, a manifest's own folds
rotated, and one default fold column for study files and cross_validate.py."""
import numpy as np
import pytest

from crossspec_mmseg.study import load_study
from crossspec_mmseg.study.folds import DEFAULT_SPLIT_BY, fold_filters, group_folds


def test_group_folds_keep_groups_whole_and_balanced():
    groups = [f'patient{i % 7}' for i in range(100)]
    folds = group_folds(groups, 3)
    assert set(folds) == {f'patient{i}' for i in range(7)} and set(folds.values()) == {0, 1, 2}
    sizes = np.bincount([folds[g] for g in groups])
    assert sizes.max() - sizes.min() <= 15  # 14-15 items per group
    with pytest.raises(ValueError, match='2 groups cannot make 3 folds'):
        group_folds(['a', 'b'], 3)


def test_fold_filters_by_group_and_by_split():
    rows = [dict(group=f'p{i % 5}', split=f'fold{i % 4}') for i in range(40)]
    by_group = fold_filters(rows, 3)  # the default column
    tested = [set(test['group']) for _, test in by_group]
    assert set().union(*tested) == {f'p{i}' for i in range(5)}
    assert sum(map(len, tested)) == 5  # each group tested in exactly one fold
    assert [train for train, _ in by_group] == [{'!group': test['group']} for _, test in by_group]
    assert fold_filters(rows, 3, 'split') == [
        ({'split': ['fold1', 'fold2']}, {'split': ['fold0']}),
        ({'split': ['fold0', 'fold2']}, {'split': ['fold1']}),
        ({'split': ['fold0', 'fold1']}, {'split': ['fold2']})]
    with pytest.raises(ValueError, match='fewer than 5 folds; split by group'):
        fold_filters(rows, 5, 'split')
    with pytest.raises(ValueError, match="split_by must be 'split' or 'group'"):
        fold_filters(rows, 3, 'slide')


def test_a_study_file_without_a_fold_column_folds_by_group(tmp_path):
    # (tools/cross_validate.py run without --split-by: test_cross_validation.py)
    path = tmp_path / 'study.py'
    path.write_text(f"runs = [dict(model='m', regime='r', config={str(path)!r})]\n")
    assert load_study(str(path)).split_by == DEFAULT_SPLIT_BY == 'group'
