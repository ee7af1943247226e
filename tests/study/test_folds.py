"""The one fold planner: cases kept whole and balanced, a manifest's own folds
rotated, one default fold column for study files and cross_validate.py, and
the old names (split_by, 'group', 'split', regime=) still read with a warning."""
import numpy as np
import pytest

from crossspec_mmseg.study import load_study
from crossspec_mmseg.study.folds import DEFAULT_FOLDS_BY, case_folds, fold_filters, group_folds


def test_case_folds_keep_cases_whole_and_balanced():
    cases = [f'patient{i % 7}' for i in range(100)]
    folds = case_folds(cases, 3)
    assert set(folds) == {f'patient{i}' for i in range(7)} and set(folds.values()) == {0, 1, 2}
    sizes = np.bincount([folds[c] for c in cases])
    assert sizes.max() - sizes.min() <= 15  # 14-15 items per case
    with pytest.raises(ValueError, match='2 cases cannot make 3 folds'):
        case_folds(['a', 'b'], 3)
    with pytest.warns(DeprecationWarning, match='use case_folds'):
        assert group_folds(cases, 3) == folds


def test_fold_filters_by_case_and_by_fold():
    rows = [dict(case=f'p{i % 5}', fold=f'fold{i % 4}') for i in range(40)]
    by_case = fold_filters(rows, 3)  # the default column
    tested = [set(test['case']) for _, test in by_case]
    assert set().union(*tested) == {f'p{i}' for i in range(5)}
    assert sum(map(len, tested)) == 5  # each case tested in exactly one fold
    assert [train for train, _ in by_case] == [{'!case': test['case']} for _, test in by_case]
    assert fold_filters(rows, 3, 'fold') == [
        ({'fold': ['fold1', 'fold2']}, {'fold': ['fold0']}),
        ({'fold': ['fold0', 'fold2']}, {'fold': ['fold1']}),
        ({'fold': ['fold0', 'fold1']}, {'fold': ['fold2']})]
    with pytest.raises(ValueError, match="fewer than 5 folds; build folds by 'case'"):
        fold_filters(rows, 5, 'fold')
    with pytest.raises(ValueError, match="folds are built by 'case' or 'fold', not 'slide'"):
        fold_filters(rows, 3, 'slide')
    with pytest.warns(DeprecationWarning) as caught:
        assert fold_filters(rows, 3, split_by='split') == fold_filters(rows, 3, 'fold')
    assert [str(w.message).split(' is deprecated')[0] for w in caught] == [
        'fold_filters(split_by=...)', "folds by 'split'"]


def test_a_study_file_without_a_fold_column_folds_by_case(tmp_path):
    # (tools/cross_validate.py run without --folds-by: test_cross_validation.py)
    path = tmp_path / 'study.py'
    path.write_text(f"runs = [dict(model='m', arm='r', config={str(path)!r})]\n")
    assert load_study(str(path)).folds_by == DEFAULT_FOLDS_BY == 'case'


def test_a_study_file_with_the_old_names_is_read_with_warnings(tmp_path):
    path = tmp_path / 'study.py'
    path.write_text(f"folds = dict(k=2, split_by='group')\n"
                    f"runs = [dict(model='m', regime='r', config={str(path)!r})]\n")
    with pytest.warns(DeprecationWarning) as caught:
        study = load_study(str(path))
    assert study.folds_by == 'case' and study.runs[0].arm == 'r' and study.baseline == 'r'
    messages = ' '.join(str(w.message) for w in caught)
    assert 'runs[0] regime=' in messages and 'split_by' in messages
    path.write_text(f"folds = dict(k=2, column='case')\n"
                    f"runs = [dict(model='m', arm='r', config={str(path)!r})]\n")
    with pytest.raises(ValueError, match=r"folds has unknown keys \['column'\]"):
        load_study(str(path))
