"""CrossSpeciesEncoderDecoder(instance_postprocess=...) on a route-a config's
model (shrunk): predictions carry the nuclei and their leaf probabilities,
and ProbabilityTTAModel finds them once, in the merged probabilities."""
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

import crossspec_mmseg  # noqa: F401
from crossspec_mmseg.converters.nuinsseg import contour_target
from crossspec_mmseg.models import ProbabilityTTAModel
from crossspec_mmseg.structures import LabelTree, TypedContourWatershed
from helpers import REPO

CONFIG = f'{REPO}/configs/nuclei/contour_deeplabv3plus_pannuke.py'


def shrink_model(model):
    """The config's DeepLabV3+ R-50 at toy width, from scratch."""
    model.pretrained = None
    model.backbone.update(depth=18, base_channels=16, stem_channels=16, init_cfg=None)
    model.decode_head.update(in_channels=128, c1_in_channels=16, channels=16, c1_channels=8,
                             dilations=(1, 2))
    model.auxiliary_head.update(in_channels=64, channels=8)
    model.data_preprocessor.update(size=(32, 32))
    return model


@pytest.fixture(scope='module')
def model():
    init_default_scope('mmseg')
    torch.manual_seed(0)
    built = MODELS.build(shrink_model(Config.fromfile(CONFIG).model))
    return built.eval()


def batch(image, flip=False):
    meta = dict(img_path='a.png', ori_shape=image.shape[1:], img_shape=image.shape[1:],
                pad_shape=image.shape[1:], flip=flip, flip_direction='horizontal' if flip else None,
                dataset='pannuke', mpp=0.5)
    return dict(inputs=[image.flip(-1) if flip else image],
                data_samples=[SegDataSample(metainfo=meta)])


def test_predictions_carry_nuclei_and_leaf_probabilities(model):
    image = torch.randint(0, 256, (3, 28, 36), dtype=torch.uint8)
    with torch.no_grad():
        (out,) = model.test_step(batch(image))
    probs = out.seg_logits.data.softmax(0).numpy()
    assert probs.shape == (15, 28, 36)  # the contour tree's leaves, unpadded
    ids, leaf_probs = TypedContourWatershed(min_size=10)(probs)
    np.testing.assert_array_equal(out.pred_instance_map.data[0].numpy(), ids)
    np.testing.assert_allclose(out.pred_instance_leaf_probs.numpy(), leaf_probs)
    assert out.pred_instance_leaf_probs.shape[1] == len(LabelTree.build('nucleus').leaves)
    assert 'pred_instance_map' in out.to_dict()  # what the evaluator hands the metric


def scene_logits(seed, shape=(32, 32)):
    """Logits of a head that sees two touching lymphocytes and a fibroblast
    (typed contour classes, noise on every logit)."""
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    ids = np.zeros(shape, np.int64)
    for k, (y, x) in enumerate([(10, 9), (10, 20), (23, 15)], start=1):
        ids[((yy - y) ** 2 + (xx - x) ** 2 <= 36) & (ids == 0)] = k
    target = np.array([0, 3, 3, 9])[ids]
    target[contour_target(ids, 1) == 2] = 14
    rng = np.random.default_rng(seed)
    return torch.as_tensor(5.0 * np.eye(15)[target].transpose(2, 0, 1)
                           + 0.8 * rng.standard_normal((15,) + shape), dtype=torch.float32)


def test_tta_runs_the_post_processing_once_on_the_merged_probabilities(model, monkeypatch):
    """Two views (the tile and its flip) whose logits differ: the merged sample's
    nuclei are those of the mean of the views' (unflipped) softmaxes."""
    image = torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8)
    seen = {False: scene_logits(0), True: scene_logits(1)}  # as the head sees each view
    monkeypatch.setattr(model, 'inference', lambda inputs, metas: torch.stack(
        [seen[m['flip']].flip(-1) if m['flip'] else seen[m['flip']] for m in metas]))
    calls = []
    post = model.instance_postprocess
    monkeypatch.setattr(model, 'instance_postprocess',
                        lambda probs: calls.append(probs) or post(probs))
    views = [batch(image), batch(image, flip=True)]
    tta = ProbabilityTTAModel(module=model)
    with torch.no_grad():
        (merged,) = tta.test_step(dict(inputs=[v['inputs'] for v in views],
                                       data_samples=[v['data_samples'] for v in views]))
    assert len(calls) == 1  # not once per view
    mean = torch.stack([seen[False].softmax(0), seen[True].softmax(0)]).mean(0).numpy()
    np.testing.assert_allclose(calls[0], mean, rtol=1e-5, atol=1e-6)
    ids, leaf_probs = post(mean)
    assert ids.max() == 3  # the touching lymphocytes stay apart
    np.testing.assert_array_equal(merged.pred_instance_map.data[0].numpy(), ids)
    np.testing.assert_allclose(merged.pred_instance_leaf_probs.numpy(), leaf_probs, rtol=1e-5)
    assert leaf_probs.argmax(1).tolist() == [3, 3, 9]
    # a single view alone: its own nuclei, in its own prediction
    calls.clear()
    with torch.no_grad():
        (single,) = model.test_step(batch(image, flip=True))
    assert len(calls) == 1 and single.pred_instance_map.data.max() == 3
