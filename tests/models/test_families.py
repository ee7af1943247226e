"""The losses and the species-weighting segmentor inside the four model families:
one training iteration each through the mmengine runner (tiny, no pretrained weights)."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmseg.registry import MODELS

import crossspec_mmseg  # noqa: F401
from conftest import TINY_CONFIG


def stock_model(name):
    import mmseg
    root = osp.join(osp.dirname(mmseg.__file__), '.mim', 'configs')
    return Config.fromfile(osp.join(root, name)).model


LOSS = [dict(type='FocalDiceLoss', class_weight=[1.0, 2.0]),
        dict(type='CEDiceLoss', loss_name='loss_ce_dice')]


def tiny(name):
    """Each family at toy width with our losses and segmentor."""
    if name == 'pspnet':
        model = stock_model('_base_/models/pspnet_r50-d8.py')
        model.backbone.update(depth=18, base_channels=16, stem_channels=16)
        model.decode_head.update(in_channels=128, channels=16, pool_scales=(1, 2))
        model.auxiliary_head.update(in_channels=64, channels=8)
    elif name == 'deeplabv3plus':
        model = stock_model('_base_/models/deeplabv3plus_r50-d8.py')
        model.backbone.update(depth=18, base_channels=16, stem_channels=16)
        model.decode_head.update(in_channels=128, c1_in_channels=16, channels=16, c1_channels=8,
                                 dilations=(1, 2))
        model.auxiliary_head.update(in_channels=64, channels=8)
    elif name == 'segnext':
        model = stock_model('segnext/segnext_mscan-t_1xb16-adamw-160k_ade20k-512x512.py')
        model.backbone.update(init_cfg=None, embed_dims=[8, 16, 32, 64], depths=[1, 1, 1, 1])
        model.decode_head.update(in_channels=[16, 32, 64], channels=32, ham_channels=32,
                                 norm_cfg=dict(type='GN', num_groups=8, requires_grad=True))
    elif name == 'mobilenetv3':
        model = stock_model('_base_/models/lraspp_m-v3-d8.py')
        model.backbone.update(arch='small', out_indices=(0, 1, 12))
        model.decode_head.update(in_channels=(16, 16, 576), channels=16)
    model.update(type='CrossSpeciesEncoderDecoder', pretrained=None,
                 sample_weight=dict(human=2.5, mouse=1.0))
    # LRASPP's image pool is a fixed 49 px window: it needs >= 392 px inputs.
    size = (400, 400) if name == 'mobilenetv3' else (64, 64)
    model.data_preprocessor.update(size=size, test_cfg=dict(size=size, size_divisor=None))
    heads = [model.decode_head] + ([model.auxiliary_head] if 'auxiliary_head' in model else [])
    for head in heads:
        head.update(num_classes=2, loss_decode=copy.deepcopy(LOSS))
    return model


@pytest.mark.heavy
@pytest.mark.parametrize('family', ['pspnet', 'deeplabv3plus', 'segnext', 'mobilenetv3'])
def test_one_iteration_per_family(family, demo_data, tmp_path, monkeypatch):
    monkeypatch.setenv('CROSSSPEC_DATA', demo_data)
    cfg = Config.fromfile(TINY_CONFIG)
    cfg.model = tiny(family)
    cfg.work_dir = str(tmp_path)
    cfg.train_cfg.update(max_iters=1, val_interval=1)
    cfg.default_hooks.checkpoint.interval = 1
    runner = Runner.from_cfg(cfg)
    runner.train()
    logs = runner.message_hub.log_scalars
    assert 'train/decode.loss_focal_dice' in logs and 'train/decode.loss_ce_dice' in logs
    assert torch.isfinite(torch.tensor(logs['train/loss'].current()))
    assert 'val/species/human/mDice' in logs and 'val/species/mouse/mDice' in logs


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


def test_inverse_frequency_weights_from_manifest(demo_data):
    from crossspec_mmseg.models import weights_from_manifest
    weights = weights_from_manifest(osp.join(demo_data, 'manifest.csv'),
                                    filters=dict(split=['fold0', 'fold1', 'fold2']))
    assert min(weights.values()) == 1.0 and set(weights) == {'human', 'mouse'}


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
