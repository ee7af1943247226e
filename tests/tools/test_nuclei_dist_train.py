"""tools/dist_train.sh with 2 CPU processes (gloo) on a route-a nuclei config:
configs/nuclei/contour_deeplabv3plus_pannuke-and-consep.py shrunk to a toy
DeepLabV3+, on synthetic PanNuke, CoNSeP and MoNuSAC downloads converted by the
real converters at 0.5 um/px. Each rank's batches hold one tile of each dataset
(CrossSpeciesMixedSampler(mix_by='dataset') per rank), the validation on both
datasets gathers the two ranks' typed scores, and the best checkpoint on
PanNuke's validation mPQ (the configs' save_best) is kept."""
import json
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from crossspec_mmseg.datasets import dataset_parts
from helpers import REPO, run_tool

NAME = 'contour_deeplabv3plus_pannuke-and-consep'


@pytest.fixture(scope='module')
def workdir(tmp_path_factory):
    """data/pannuke, data/consep and data/monusac converted from synthetic
    downloads (64 px tiles), where the configs look for them."""
    from crossspec_mmseg.converters.consep import convert_consep
    from crossspec_mmseg.converters.monusac import convert_monusac
    from crossspec_mmseg.converters.pannuke import convert_pannuke
    from crossspec_mmseg.demo.downloads.consep import write_consep_raw
    from crossspec_mmseg.demo.downloads.monusac import write_monusac_raw
    from crossspec_mmseg.demo.downloads.pannuke import write_pannuke_raw
    root = tmp_path_factory.mktemp('nuclei_dist')
    raw = root / 'raw'
    write_pannuke_raw(str(raw / 'pannuke'), patches=2, size=128, seed=5)
    write_consep_raw(str(raw / 'consep'), n_train=4, n_test=2, shape=(128, 128), seed=5)
    write_monusac_raw(str(raw / 'monusac'))
    for convert, name in ((convert_pannuke, 'pannuke'), (convert_consep, 'consep'),
                          (convert_monusac, 'monusac')):
        convert(str(raw / name), str(root / 'data' / name), mpp=0.5, tile=64)
    return root


def tiny(path):
    """The shipped config with DeepLabV3+ on a 16-channel ResNet-18, 64 px crops,
    batches of 2 per rank (1 + 1), two iterations, validation on two tiles per
    dataset at the end, no worker processes."""
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'nuclei', f'{NAME}.py'))
    model = cfg.model
    model.pretrained = None
    model.backbone.update(depth=18, base_channels=16, stem_channels=16, init_cfg=None)
    model.decode_head.update(in_channels=128, c1_in_channels=16, channels=16, c1_channels=8,
                             dilations=(1, 2))
    model.auxiliary_head.update(in_channels=64, channels=8)
    model.data_preprocessor.update(size=(64, 64))
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].update(num_workers=0, persistent_workers=False)
        if loader != 'train_dataloader':
            for part in dataset_parts(cfg[loader].dataset):
                part['indices'] = 2
    cfg.train_dataloader.batch_size = cfg.train_dataloader.sampler.batch_size = 2
    cfg.train_cfg.update(max_iters=2, val_interval=2)
    cfg.default_hooks.checkpoint.update(interval=2)
    cfg.default_hooks.logger.update(interval=1)
    cfg.custom_hooks = [dict(type='GroupCountHook', keys=('dataset',))]
    cfg.env_cfg.dist_cfg.timeout = 120  # a stuck rank fails the test, not CI
    cfg.randomness = dict(seed=0)
    cfg.dump(str(path))
    return str(path)


@pytest.mark.heavy
@pytest.mark.slow
def test_two_cpu_processes_train_the_joint_config(workdir):
    config = tiny(workdir / f'{NAME}.py')
    work = workdir / 'work'
    proc = run_tool(['tools/dist_train.sh', config, '2', '--work-dir', str(work)], '',
                    cwd=str(workdir))
    log = proc.stdout + proc.stderr
    assert 'Distributed training: True' in log and 'GPU number: 2' in log
    assert "type='CPUDistributedDataParallel'" in log
    for rank in (0, 1):  # every batch of every rank: one PanNuke and one CoNSeP tile
        counts = json.load(open(work / f'group_counts_rank{rank}.json'))['dataset']
        assert counts == dict(consep=2, pannuke=2)
    assert torch.load(work / 'iter_2.pth', map_location='cpu',
                      weights_only=False)['meta']['iter'] == 2
    # validated on both datasets (each rank half the tiles), typed keys per dataset,
    # and the best checkpoint on PanNuke's validation mPQ kept
    scalars = [json.loads(line) for line in open(
        next(work.glob('*/vis_data/scalars.json')))]
    validated = next(s for s in scalars if 'dataset/pannuke/mPQ' in s)
    assert {'dataset/consep/mPQ', 'dataset/pannuke/bPQ', 'dataset/consep/bPQ'} <= set(validated)
    assert (work / 'best_dataset_pannuke_mPQ_iter_2.pth').is_file()
