"""GroupIoUMetric against hand computations with NumPy."""
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from crossspec_mmseg.evaluation import GroupIoUMetric, format_group_table


def sample(pred, gt, species):
    s = SegDataSample(metainfo=dict(species=species, img_path=f'{species}.png'))
    s.pred_sem_seg = PixelData(data=torch.as_tensor(pred)[None])
    s.gt_sem_seg = PixelData(data=torch.as_tensor(gt)[None])
    return s.to_dict()


def scores(pairs, num_classes=2, ignore=255):
    """Reference: pixel totals over the set; per-image means over present classes."""
    inter, union, psum, lsum, img_iou, img_dice = (np.zeros(num_classes), np.zeros(num_classes),
                                                   np.zeros(num_classes), np.zeros(num_classes),
                                                   [], [])
    for pred, gt in pairs:
        valid = gt != ignore
        i_, u_, p_, l_ = [], [], [], []
        for c in range(num_classes):
            p, g = (pred == c) & valid, (gt == c) & valid
            i_.append((p & g).sum())
            u_.append((p | g).sum())
            p_.append(p.sum())
            l_.append(g.sum())
        i_, u_, p_, l_ = map(np.array, (i_, u_, p_, l_))
        inter += i_
        union += u_
        psum += p_
        lsum += l_
        present = u_ > 0
        img_iou.append((i_[present] / u_[present]).mean())
        img_dice.append((2 * i_[present] / (p_[present] + l_[present])).mean())
    iou, dice = inter / union, 2 * inter / (psum + lsum)
    return dict(mIoU=iou.mean() * 100, mDice=dice.mean() * 100, **{'Dice.fg': dice[1] * 100},
                mIoU_std=np.std(img_iou) * 100, mDice_std=np.std(img_dice) * 100)


def test_overall_and_per_species_match_numpy():
    rng = np.random.default_rng(0)
    data = []
    for k in range(6):
        gt = rng.integers(0, 2, (16, 16))
        gt[rng.random((16, 16)) < 0.1] = 255
        pred = np.where(rng.random((16, 16)) < 0.8, gt % 255, 1 - gt % 255)
        data.append((pred, gt, 'human' if k < 2 else 'mouse'))
    metric = GroupIoUMetric(report_by=('species',))
    metric.dataset_meta = dict(classes=('bg', 'fg'))
    metric.process({}, [sample(p, g, s) for p, g, s in data])
    result = metric.evaluate(len(data))

    for prefix, subset in (('', data), ('species/human/', data[:2]), ('species/mouse/', data[2:])):
        ref = scores([(p, g) for p, g, _ in subset])
        for key, value in ref.items():
            assert result[prefix + key] == pytest.approx(value, abs=0.01), prefix + key
    assert result['species/human/n'] == 2 and result['species/mouse/n'] == 4
    table = format_group_table(result)
    assert 'species=human' in table and 'species=mouse' in table


def test_missing_group_key_is_a_clear_error():
    metric = GroupIoUMetric(report_by=('organ',))
    metric.dataset_meta = dict(classes=('bg', 'fg'))
    with pytest.raises(KeyError, match="lacks \\['organ'\\]"):
        metric.process({}, [sample(np.zeros((4, 4)), np.zeros((4, 4)), 'human')])


@pytest.mark.parametrize('keyword', ['report_by', 'group_keys'])
def test_report_by_a_combination_of_keys(keyword, recwarn):
    """``group_keys`` (the old name) still works for one release, with a warning."""
    metric = GroupIoUMetric(**{keyword: ('species', ('species', 'organ'))})
    deprecated = [w for w in recwarn if issubclass(w.category, DeprecationWarning)]
    assert bool(deprecated) is (keyword == 'group_keys')
    metric.dataset_meta = dict(classes=('bg', 'fg'))
    samples = []
    for species, organ in (('human', 'kidney'), ('human', 'liver'), ('mouse', 'kidney')):
        s = sample(np.ones((4, 4), int), np.ones((4, 4), int), species)
        s['organ'] = organ
        samples.append(s)
    metric.process({}, samples)
    result = metric.evaluate(3)
    assert result['species+organ/human+kidney/n'] == 1
    assert result['species+organ/mouse+kidney/n'] == 1
    assert result['species/human/n'] == 2


def test_glomerulus_count_difference_ignores_specks_and_ignored_area():
    gt = np.zeros((20, 20), int)
    gt[2:6, 2:6] = 1
    gt[10:15, 10:15] = 1          # 2 glomeruli
    gt[:, 18:] = 255              # outside ROI
    pred = np.zeros((20, 20), int)
    pred[2:6, 2:6] = 1            # 1 matching
    pred[8, 0] = 1                # 1-pixel speck, below min_area
    pred[5:10, 18:] = 1           # in the ignored strip: not counted
    metric = GroupIoUMetric(count_classes=('fg',), min_area=4)
    metric.dataset_meta = dict(classes=('bg', 'fg'))
    metric.process({}, [sample(pred, gt, 'human'), sample(gt, gt, 'mouse')])
    result = metric.evaluate(2)
    assert result['species/human/count_diff.fg'] == 1.0   # |2 - 1|
    assert result['species/mouse/count_diff.fg'] == 0.0
    assert result['count_diff.fg'] == 0.5


def test_each_dataset_scored_in_its_own_label_set():
    tree = dict(leaves=['bg', 'cortex', 'os', 'is', 'im'], nodes=dict(medulla=['os', 'is', 'im']),
                label_sets=dict(mouse=['bg', 'cortex', 'os', 'is', 'im'],
                                human=['bg', 'cortex', 'medulla']))
    leaf = np.array([[0, 1, 2, 3, 4]] * 5)
    human_gt = np.array([[5, 6, 7, 7, 7]] * 5)        # human node ids (offset 5)
    human_pred = np.array([[0, 1, 4, 2, 3]] * 5)      # any medulla leaf is right for human
    metric = GroupIoUMetric(label_tree=tree)
    metric.dataset_meta = dict(classes=tuple(tree['leaves']))
    metric.process({}, [sample(leaf, leaf, 'mouse'), sample(human_pred, human_gt, 'human')])
    result = metric.evaluate(2)
    assert result['labelset/human/mIoU'] == 100.0 and 'labelset/human/IoU.medulla' in result
    assert result['labelset/mouse/mIoU'] == 100.0 and 'labelset/mouse/IoU.os' in result
    assert result['species/human/IoU.medulla'] == 100.0
    assert result['mIoU'] == 100.0 and 'IoU.inner_medulla' not in result


def test_wrong_leaf_lowers_only_the_finer_set():
    tree = dict(leaves=['bg', 'a', 'b'], nodes=dict(ab=['a', 'b']),
                label_sets=dict(fine=['bg', 'a', 'b'], coarse=['bg', 'ab']))
    metric = GroupIoUMetric(label_tree=tree)
    metric.dataset_meta = dict(classes=('bg', 'a', 'b'))
    gt_fine = np.array([[0, 1, 1, 2]])
    pred = np.array([[0, 2, 1, 2]])                   # one a predicted as b
    gt_coarse = np.array([[3, 4, 4, 4]])              # coarse ids: bg=3, ab=4
    metric.process({}, [sample(pred, gt_fine, 'mouse'), sample(pred, gt_coarse, 'human')])
    result = metric.evaluate(2)
    assert result['labelset/coarse/mIoU'] == 100.0
    assert result['labelset/fine/IoU.a'] == 50.0


def test_format_only_writes_predictions_and_scores_nothing(tmp_path):
    """MMSeg's ``tools/test.py --format-only`` path: PNGs written, no metric keys."""
    from PIL import Image

    metric = GroupIoUMetric(format_only=True, output_dir=str(tmp_path))
    metric.dataset_meta = dict(classes=('bg', 'fg'))
    pred = np.eye(8, dtype=np.int64)
    metric.process({}, [sample(pred, np.full((8, 8), 255), 'human')])
    assert metric.evaluate(1) == {}
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / 'human.png')), pred)
