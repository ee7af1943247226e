"""The species-weighting segmentor and its losses on a tiny DeepLabV3+: sample weights,
host syncs (one training iteration of every family and regime: tests/tools/test_config_zoo.py)."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

import crossspec_mmseg  # noqa: F401
from helpers import TINY_CONFIG

LOSS = [dict(type='FocalDiceLoss', class_weight=[1.0, 2.0]),
        dict(type='CEDiceLoss', loss_name='loss_ce_dice')]


def tiny(name='deeplabv3plus'):
    """MMSeg's stock DeepLabV3+ at toy width with our losses and segmentor."""
    import mmseg
    root = osp.join(osp.dirname(mmseg.__file__), '.mim', 'configs')
    model = Config.fromfile(osp.join(root, '_base_', 'models', f'{name}_r50-d8.py')).model
    model.backbone.update(depth=18, base_channels=16, stem_channels=16)
    model.decode_head.update(in_channels=128, c1_in_channels=16, channels=16, c1_channels=8,
                             dilations=(1, 2))
    model.auxiliary_head.update(in_channels=64, channels=8)
    model.update(type='CrossSpeciesEncoderDecoder', pretrained=None,
                 sample_weight=dict(human=2.5, mouse=1.0))
    model.data_preprocessor.update(size=(64, 64), test_cfg=dict(size=(64, 64), size_divisor=None))
    for head in (model.decode_head, model.auxiliary_head):
        head.update(num_classes=2, loss_decode=copy.deepcopy(LOSS))
    return model


def test_species_weight_scales_each_sample_loss(demo_data, monkeypatch):
    """Weight 2 on every sample doubles both terms; per-sample weights follow species."""
    monkeypatch.setenv('CROSSSPEC_DATA', demo_data)
    init_default_scope('mmseg')
    cfg = tiny('deeplabv3plus')
    torch.manual_seed(0)
    weighted = MODELS.build(cfg)
    plain_cfg = copy.deepcopy(cfg)
    plain_cfg.pop('sample_weight')
    plain = MODELS.build(plain_cfg)
    plain.load_state_dict(weighted.state_dict())
    weighted.eval(), plain.eval()  # deterministic (dropout/BN)

    data_cfg = Config.fromfile(TINY_CONFIG).train_dataloader.dataset
    from mmseg.registry import DATASETS
    dataset = DATASETS.build(data_cfg)
    humans = [dataset[i] for i in range(len(dataset))
              if dataset[i]['data_samples'].species == 'human'][:2]
    batch = weighted.data_preprocessor(dict(inputs=[s['inputs'] for s in humans],
                                            data_samples=[s['data_samples'] for s in humans]))
    with torch.no_grad():
        lw = weighted.loss(batch['inputs'], batch['data_samples'])
        lp = plain.loss(batch['inputs'], batch['data_samples'])
    for key in ('decode.loss_focal_dice', 'decode.loss_ce_dice', 'aux.loss_focal_dice'):
        assert lw[key].item() == pytest.approx(2.5 * lp[key].item(), rel=1e-5), key
    assert weighted.weights_for(batch['data_samples']).tolist() == [2.5, 2.5]


@pytest.mark.parametrize('check_labels, expected', [(True, 4), (False, 0)])
def test_host_syncs_per_training_step(demo_data, monkeypatch, check_labels, expected):
    """What would make a GPU wait, counted in one loss step of the species-weighted
    segmentor with two heads x two losses: one label check per loss call (none
    when turned off); the sample weights move once per batch, without waiting."""
    monkeypatch.setenv('CROSSSPEC_DATA', demo_data)
    init_default_scope('mmseg')
    cfg = tiny('deeplabv3plus')
    for head in (cfg.decode_head, cfg.auxiliary_head):
        for loss in head.loss_decode:
            loss['check_labels'] = check_labels
    model = MODELS.build(cfg)
    from mmseg.registry import DATASETS
    dataset = DATASETS.build(Config.fromfile(TINY_CONFIG).train_dataloader.dataset)
    samples = [dataset[i] for i in range(2)]
    batch = model.data_preprocessor(dict(inputs=[s['inputs'] for s in samples],
                                         data_samples=[s['data_samples'] for s in samples]), True)
    syncs = []
    for name in ('__bool__', 'item', '__int__', '__float__', 'tolist', 'cpu', 'numpy'):
        real = getattr(torch.Tensor, name)
        monkeypatch.setattr(torch.Tensor, name, lambda self, *a, _real=real, _name=name, **k:
                            syncs.append(_name) or _real(self, *a, **k))
    losses = model.loss(batch['inputs'], batch['data_samples'])
    monkeypatch.undo()
    assert len(syncs) == expected, syncs
    assert all(torch.isfinite(v).all() for k, v in losses.items() if 'loss' in k)
