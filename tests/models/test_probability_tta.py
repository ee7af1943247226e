"""ProbabilityTTAModel: MMSeg's TTA argmax, plus the merged probabilities in
seg_logits (MMSeg's own keeps one view's logits). The shipped configs test
with it through tools/test.py --tta: tests/tools/test_config_zoo.py."""
import torch
from mmengine.structures import PixelData
from mmseg.models import SegTTAModel
from mmseg.structures import SegDataSample

from crossspec_mmseg.models import ProbabilityTTAModel


class _Module(torch.nn.Module):
    def __init__(self, out_channels):
        super().__init__()
        self.out_channels = out_channels
        self.decode_head = type('Head', (), {'threshold': 0.3})()

    def test_step(self, data):  # what BaseTTAModel requires of the model it wraps
        raise NotImplementedError


def views(logits):
    samples = []
    for i, view in enumerate(logits):
        sample = SegDataSample(metainfo=dict(img_path='a.png', flip=i > 0, species='human'))
        sample.seg_logits = PixelData(data=view)
        samples.append(sample)
    return samples


def test_merged_probabilities_are_the_mean_of_the_views_softmax():
    torch.manual_seed(0)
    logits = torch.randn(3, 4, 5, 6) * 3  # 3 views, 4 classes
    ours = ProbabilityTTAModel(module=_Module(4)).merge_preds([views(logits)])[0]
    stock = SegTTAModel(module=_Module(4)).merge_preds([views(logits)])[0]
    mean = logits.softmax(dim=1).mean(dim=0)
    assert torch.equal(ours.pred_sem_seg.data, stock.pred_sem_seg.data)
    torch.testing.assert_close(ours.seg_logits.data.softmax(dim=0), mean)
    assert not torch.allclose(stock.seg_logits.data.softmax(dim=0), mean)  # one view's
    assert ours.species == 'human' and ours.flip is False  # the unflipped view's metainfo


def test_one_channel_heads_keep_the_mean_sigmoid_and_the_threshold():
    logits = torch.tensor([[[[-2.0, 0.1]]], [[[-0.5, 3.0]]]])  # 2 views, 1 channel
    ours = ProbabilityTTAModel(module=_Module(1)).merge_preds([views(logits)])[0]
    mean = logits.sigmoid().mean(dim=0)
    torch.testing.assert_close(ours.seg_logits.data.sigmoid(), mean)
    assert ours.pred_sem_seg.data.tolist() == [[[0, 1]]]  # mean 0.22 < 0.3 < 0.76
