"""The typed-nuclei configs (configs/nuclei/: route a, contour_*.py, and route
b, stardist_r50_*.py): the generated configs are current and say what
docs/nuclei.md says (each regime, the checkpoint chosen on validation); a
shrunk DeepLabV3+ trains through tools/train.py on synthetic PanNuke, then
CoNSeP from PanNuke's last checkpoint with every layer (the head included),
and tests through tools/test.py (and --tta) with typed keys per dataset; the
joint configs mix the two datasets (PanNuke and NuInsSeg's mouse images: the
two species) in every batch, each scored in its own label set, for both
routes. The StarDist route's own training run: tests/models/test_stardist_runner.py."""
import glob
import json
import os
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmseg.registry import HOOKS, MODELS

import crossspec_mmseg  # noqa: F401
from crossspec_mmseg.datasets import dataset_parts
from crossspec_mmseg.structures import LabelTree, nucleus_label_offset
from helpers import REPO, run_tool

NUCLEI = osp.join(REPO, 'configs', 'nuclei')
ALONE = 'contour_deeplabv3plus_pannuke'
THEN = 'contour_deeplabv3plus_pannuke-then-consep'
JOINT = 'contour_deeplabv3plus_pannuke-and-consep'
GEOMETRIC = ('RandomCrop', 'RandomFlip', 'RandomRotFlip', 'RandomResize', 'RandomRotate')
ORIGIN = dict(pannuke='pannuke', consep='consep', monusac='tcga', nuinsseg='nuinsseg')
TYPED = ('pannuke', 'consep', 'monusac')
FAMILIES = ('contour_deeplabv3plus', 'contour_unet', 'stardist_r50')
#: What each stage-2 run holds when it starts training (RecordStartWeightsHook).
STARTS = {}


@HOOKS.register_module(force=True)
class RecordStartWeightsHook(Hook):
    """The model's weights and trainable flags when training starts (after
    ``load_from``), for the A-then-B test."""

    def before_train(self, runner):
        STARTS[osp.basename(runner.work_dir)] = dict(
            state={k: v.detach().clone() for k, v in runner.model.state_dict().items()
                   if torch.is_tensor(v)},  # not a FoundationViT's extra state
            params={k: v.detach().clone() for k, v in runner.model.named_parameters()},
            frozen=[n for n, p in runner.model.named_parameters() if not p.requires_grad])


def config(name):
    return Config.fromfile(osp.join(NUCLEI, f'{name}.py'))


def shrink(cfg):
    """Toy models (DeepLabV3+ on R-18 at 16 channels, UNet at 8, StarDist on
    R-18 at 8), 64 px batches of 2, two iterations, two tiles per
    validation/test dataset, no worker processes."""
    model = cfg.model
    model.pretrained = None
    if model.type == 'StarDistSegmentor':
        bn = dict(type='BN', requires_grad=True)
        model.backbone.update(depth=18, base_channels=8, stem_channels=8, norm_cfg=bn)
        model.decode_head.update(in_channels=[8, 16, 32, 64], decoder_channels=(16, 16, 8, 8),
                                 channels=8, norm_cfg=bn)
    elif model.backbone.type == 'UNet':
        model.backbone.update(base_channels=8)
        model.decode_head.update(in_channels=8, channels=8)
        model.auxiliary_head.update(in_channels=16, channels=8)
    elif model.backbone.type == 'FoundationViT':  # a tiny encoder of UNI's structure
        model.backbone.update(arch=dict(depth=3, embed_dim=32, num_heads=2),
                              out_indices=(0, 1, 2), stem_channels=16)
        model.neck.update(in_channels=[16, 32, 32, 32], out_channels=16)
        model.decode_head.update(in_channels=16, c1_in_channels=16, channels=16,
                                 c1_channels=8, dilations=(1, 2))
        model.auxiliary_head.update(in_channels=16, channels=8)
    else:
        model.backbone.update(depth=18, base_channels=16, stem_channels=16, init_cfg=None)
        model.decode_head.update(in_channels=128, c1_in_channels=16, channels=16,
                                 c1_channels=8, dilations=(1, 2))
        model.auxiliary_head.update(in_channels=64, channels=8)
    model.data_preprocessor.update(size=(64, 64))
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].update(num_workers=0, persistent_workers=False)
        if loader != 'train_dataloader':
            for part in dataset_parts(cfg[loader].dataset):
                part['indices'] = 2
    cfg.train_dataloader.batch_size = 2
    if 'batch_size' in cfg.train_dataloader.sampler:
        cfg.train_dataloader.sampler.batch_size = 2
    cfg.train_cfg.update(max_iters=2, val_interval=2)
    cfg.default_hooks.checkpoint.update(interval=2)
    cfg.default_hooks.logger.update(interval=1)
    cfg.randomness = dict(seed=0)
    return cfg


@pytest.fixture(scope='module')
def workdir(tmp_path_factory):
    """A working directory whose data/ holds PanNuke, CoNSeP, MoNuSAC and
    NuInsSeg (human and mouse kidney) converted from synthetic downloads by the
    real converters at 0.5 um/px (64 px tiles: a PanNuke patch of 128 px at
    0.25 um/px is one tile), each where the configs look for it."""
    from crossspec_mmseg.converters import convert_nuinsseg
    from crossspec_mmseg.converters.consep import convert_consep
    from crossspec_mmseg.converters.monusac import convert_monusac
    from crossspec_mmseg.converters.pannuke import convert_pannuke
    from crossspec_mmseg.demo import write_nuinsseg_raw
    from crossspec_mmseg.demo.downloads.consep import write_consep_raw
    from crossspec_mmseg.demo.downloads.monusac import write_monusac_raw
    from crossspec_mmseg.demo.downloads.pannuke import write_pannuke_raw
    root = tmp_path_factory.mktemp('nuclei_route_a')
    raw = root / 'raw'
    write_pannuke_raw(str(raw / 'pannuke'), patches=2, size=128, seed=2)
    write_consep_raw(str(raw / 'consep'), n_train=4, n_test=2, shape=(128, 128), seed=2)
    write_monusac_raw(str(raw / 'monusac'))
    for convert, name in ((convert_pannuke, 'pannuke'), (convert_consep, 'consep'),
                          (convert_monusac, 'monusac')):
        convert(str(raw / name), str(root / 'data' / name), mpp=0.5, tile=64)
    write_nuinsseg_raw(str(raw / 'nuinsseg'), {'human kidney': 3, 'mouse kidney': 10},
                       size=128, seed=3)
    nuinsseg = config(ALONE).nuinsseg_root  # data/nuinsseg_mpp0.5
    convert_nuinsseg(str(raw / 'nuinsseg'), str(root / nuinsseg), mpp=0.5)
    (root / 'configs').mkdir()
    return root


def dump(cfg, workdir, name):
    """The shrunk config under its own name (so its default work dir is
    ``work_dirs/<name>``, where a stage 2 looks for it)."""
    path = str(workdir / 'configs' / f'{name}.py')
    cfg.dump(path)
    return path


def test_generated_configs_are_current():
    proc = run_tool(['tools/generate_nuclei_configs.py', '--check'], '', check=False, fresh=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    names = {osp.basename(p)[:-3] for p in glob.glob(osp.join(NUCLEI, '*.py'))}
    for model in FAMILIES:  # both routes, every regime
        for a in TYPED:
            assert f'{model}_{a}' in names
            for b in set(TYPED) - {a}:
                assert f'{model}_{a}-then-{b}' in names
                assert {f'{model}_{a}-and-{b}', f'{model}_{b}-and-{a}'} & names
        assert f'{model}_pannuke-and-nuinsseg-mouse' in names
    assert len(names) == len(FAMILIES) * (3 + 6 + 3 + 1)


def trained_datasets(name, cfg):
    """The datasets a config's model has trained on by its end (A then B: both)."""
    if '-then-' in name:
        return set(name.split('_')[-1].split('-then-'))
    return {p.type.replace('Dataset', '').lower()
            for p in dataset_parts(cfg.train_dataloader.dataset)}


@pytest.mark.parametrize('name', [
    ALONE, THEN, 'contour_unet_consep-and-monusac', 'contour_unet_pannuke-and-nuinsseg-mouse',
    'stardist_r50_pannuke', 'stardist_r50_monusac-then-consep', 'stardist_r50_consep-and-monusac',
    'stardist_r50_pannuke-and-nuinsseg-mouse'])
def test_configs_say_what_the_docs_say(name):
    cfg = config(name)
    model = cfg.model
    stardist = name.startswith('stardist_')
    if stardist:  # route b: configs/nuclei/stardist_r50_pannuke.py as written by hand
        head = model.decode_head
        assert model.type == 'StarDistSegmentor' and cfg.tta_model.type == 'StarDistTTAModel'
        assert (model.backbone.type, model.backbone.depth) == ('ResNetV1c', 50)
        assert (head.type, head.n_rays, tuple(head.loss_weights)) == ('StarDistHead', 32,
                                                                      (1.0, 0.2, 1.0))
        assert head.num_classes == len(LabelTree.build('nucleus').leaves) == 14
        assert head.loss_decode.label_tree == 'nucleus'
        assert cfg.optim_wrapper.optimizer.type == 'AdamW' and cfg.train_dataloader.batch_size == 8
        evaluator, iou = cfg.test_evaluator
        assert (iou.type, iou.label_tree, iou.report_by) == ('GroupIoUMetric', 'nucleus',
                                                              ('dataset',))
        target, pack = 'StarDistTargets', 'PackStarDistInputs'
    else:
        contour = LabelTree.build('nucleus_contour')
        assert model.type == 'CrossSpeciesEncoderDecoder' and not model.get('frozen_modules')
        assert model.instance_postprocess.type == 'TypedContourWatershed'
        for head in (model.decode_head, model.auxiliary_head):
            assert head.num_classes == len(contour.leaves) == 15
            assert [loss.label_tree for loss in head.loss_decode] == ['nucleus_contour']
        assert cfg.tta_model.type == 'ProbabilityTTAModel'
        evaluator = cfg.test_evaluator
        target, pack = 'TypedContourTarget', 'PackSegInputsWithInstances'
    assert (evaluator.type, evaluator.types, evaluator.label_tree, evaluator.report_by) == (
        'GroupInstanceMetric', True, 'nucleus', ('dataset',))
    # every dataset at the one um/px, in its own label set of the nucleus tree
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        for part in dataset_parts(cfg[loader].dataset):
            dataset = part.type.replace('Dataset', '').lower()
            assert part.label_offset == nucleus_label_offset(dataset), (loader, dataset)
            assert part.filters['mpp'] == str(cfg.mpp) == '0.5'
            steps = [t.type for t in part.pipeline]
            assert 'LoadInstanceMap' in steps
            assert {'dataset', 'organ', 'mpp', 'origin'} <= set(part.pipeline[-1].meta_keys)
            if loader == 'train_dataloader':  # the target after every geometric step
                assert steps[-1] == pack
                target_at = steps.index(target)
                assert all(i < target_at for i, s in enumerate(steps) if s in GEOMETRIC)
                assert steps.index('LoadInstanceMap') < target_at
            else:
                assert steps[-1] == 'PackSegInputsWithInstances'
                assert not {'TypedContourTarget', 'StarDistTargets'} & set(steps)
            if dataset == 'nuinsseg':  # its mouse images only, beside data/nuinsseg
                assert part.filters['species'] == 'mouse'
                assert part.data_root == 'data/nuinsseg_mpp0.5'
    tests = [p.type for p in dataset_parts(cfg.test_dataloader.dataset)]
    assert tests == ['PanNukeDataset', 'CoNSePDataset', 'MoNuSACDataset']
    trained = trained_datasets(name, cfg)
    if '-then-' in name:  # stage 2 trains on B from stage 1 (on A): both trained it
        (hook,) = cfg.custom_hooks
        stage1 = name.split('-then-')[0]
        assert hook.type == 'InitFromStageHook' and hook.work_dir == f'work_dirs/{stage1}'
        assert osp.isfile(osp.join(REPO, hook.config))
    else:
        assert not cfg.get('custom_hooks')
    if '-and-' in name:
        sampler = cfg.train_dataloader.sampler
        assert sampler.type == 'CrossSpeciesMixedSampler' and sampler.mix_by == 'dataset'
        assert set(sampler.ratios) == trained
        assert sampler.batch_size == cfg.train_dataloader.batch_size
    # the checkpoint chosen on the validation split of the dataset trained on (the
    # first of a joint config), by its mPQ
    first = name.split('_')[-1].split('-then-')[-1].split('-and-')[0]
    checkpoint = cfg.default_hooks.checkpoint
    assert (checkpoint.save_best, checkpoint.rule) == (f'dataset/{first}/mPQ', 'greater')
    validated = [p.type.replace('Dataset', '').lower()
                 for p in dataset_parts(cfg.val_dataloader.dataset)]
    assert first in validated and set(validated) <= trained
    # the unseen test set leaves out the tiles whose origin a training set holds
    assert cfg.unseen_test.type == 'LizardDataset'
    assert cfg.unseen_test.label_offset == nucleus_label_offset('lizard')
    assert sorted(cfg.unseen_test.filters['!origin']) == sorted(ORIGIN[d] for d in trained)


def test_pannuke_then_consep_keeps_every_layer_and_tests_typed(workdir):
    """Stage 1 on PanNuke, stage 2 on CoNSeP from stage 1's last checkpoint (found
    by InitFromStageHook) with every weight, the head included, and nothing
    frozen; tools/test.py (and --tta) give the typed keys per dataset, the
    unseen MoNuSAC included."""
    cfg = shrink(config(ALONE))
    cfg.train_cfg.val_interval = 100  # stage 2 validates
    stage1 = dump(cfg, workdir, ALONE)
    run_tool(['tools/train.py', stage1], '', cwd=str(workdir), fresh=False)
    cfg = shrink(config(THEN))
    cfg.custom_hooks.append(dict(type='RecordStartWeightsHook'))
    stage2 = dump(cfg, workdir, THEN)
    run_tool(['tools/train.py', stage2], '', cwd=str(workdir), fresh=False)

    work = workdir / 'work_dirs'
    last1 = (work / ALONE / 'last_checkpoint').read_text().strip()
    after_a = torch.load(last1, map_location='cpu', weights_only=False)['state_dict']
    start = STARTS[THEN]
    assert start['frozen'] == []
    assert set(start['state']) == set(after_a)
    for key, value in after_a.items():
        assert torch.equal(start['state'][key], value), key  # every layer, the head included
    assert any(k.startswith('decode_head.conv_seg') for k in after_a)
    last2 = (work / THEN / 'last_checkpoint').read_text().strip()
    after_b = torch.load(last2, map_location='cpu', weights_only=False)['state_dict']
    assert not torch.equal(after_b['decode_head.conv_seg.weight'],
                           after_a['decode_head.conv_seg.weight'])  # the head trained on
    # stage 2 validated on CoNSeP's validation split and kept its best checkpoint
    assert (work / THEN / 'best_dataset_consep_mPQ_iter_2.pth').is_file()

    for extra, out in (([], 'test'), (['--tta'], 'test_tta')):
        run_tool(['tools/test.py', stage2, last2, '--work-dir', str(workdir / out)] + extra,
                 '', cwd=str(workdir), fresh=False)
        metrics = json.load(open(workdir / out / 'metrics.json'))
        for dataset in TYPED:
            for key in ('bPQ', 'mPQ', 'PQ', 'F1d'):
                assert f'dataset/{dataset}/{key}' in metrics, (out, dataset, key)
        assert 'dataset/consep/PQ_fibroblast' in metrics  # CoNSeP's own classes
        assert 'dataset/pannuke/PQ_immune' in metrics and 'dataset/monusac/PQ_lymphocyte' in metrics
        assert not any('boundary' in key for key in metrics)


@pytest.mark.parametrize('name', [JOINT, 'contour_deeplabv3plus_pannuke-and-nuinsseg-mouse',
                                  'stardist_r50_pannuke-and-nuinsseg-mouse'])
def test_joint_configs_mix_the_datasets_each_in_its_label_set(workdir, name):
    """Every batch of a joint config holds a tile of each dataset (PanNuke and
    NuInsSeg mouse: a human and a mouse tile, mixed by dataset as by species),
    whose targets lie in their own label sets (route a: of the contour tree,
    the boundary included; NuInsSeg's {background, nucleus} too); the loss
    takes it."""
    init_default_scope('mmseg')
    cfg = shrink(config(name))
    old = os.getcwd()
    os.chdir(workdir)
    try:
        loader = Runner.build_dataloader(cfg.train_dataloader, seed=0)
        batches = [batch for _, batch in zip(range(3), loader)]
    finally:
        os.chdir(old)
    stardist = name.startswith('stardist_')
    tree = LabelTree.build('nucleus' if stardist else 'nucleus_contour')
    node_set, set_names = tree.node_set.numpy(), list(tree.label_sets)
    expected = sorted(name.split('_')[-1].replace('-mouse', '').split('-and-'))
    for batch in batches:
        assert sorted(s.dataset for s in batch['data_samples']) == expected
        if 'nuinsseg' in expected:
            assert sorted(s.species for s in batch['data_samples']) == ['human', 'mouse']
        for sample in batch['data_samples']:
            labels = sample.gt_sem_seg.data.numpy()
            sets = {set_names[s] for s in node_set[labels[labels != 255]]}
            assert sets == {sample.dataset}
            if stardist:  # star targets instead of the boundary
                assert sample.gt_star_dist.data.shape[0] == cfg.n_rays
            else:
                boundary = tree.offsets[sample.dataset] + len(tree.label_sets[sample.dataset]) - 1
                assert (labels == boundary).any()
    model = MODELS.build(cfg.model)
    data = model.data_preprocessor(batches[0], True)
    with torch.no_grad():
        losses = model.loss(data['inputs'], data['data_samples'])
    assert all(torch.isfinite(v).all() for v in losses.values())
    if stardist:
        assert {'decode.loss_prob', 'decode.loss_dist', 'decode.loss_hierarchical'} <= set(losses)
    else:
        assert {'decode.loss_hierarchical', 'aux.loss_hierarchical'} <= set(losses)


@pytest.mark.slow
def test_unet_joint_config_trains_and_tests(workdir):
    """The second family: UNet trained jointly on CoNSeP and MoNuSAC through
    the tools, tested on every dataset with typed keys."""
    name = 'contour_unet_consep-and-monusac'
    path = dump(shrink(config(name)), workdir, name)
    run_tool(['tools/train.py', path], '', cwd=str(workdir), fresh=False)
    last = (workdir / 'work_dirs' / name / 'last_checkpoint').read_text().strip()
    run_tool(['tools/test.py', path, last, '--work-dir', str(workdir / 'unet')], '',
             cwd=str(workdir), fresh=False)
    metrics = json.load(open(workdir / 'unet' / 'metrics.json'))
    assert all(f'dataset/{d}/mPQ' in metrics for d in TYPED)


@pytest.mark.heavy
@pytest.mark.slow
def test_foundation_encoder_pannuke_then_consep_keeps_every_layer(workdir):
    """configs/foundation/uni-lora_contour_*: route a on a (tiny) UNI-structured
    encoder with LoRA, its "published" weights where the config looks; stage 2
    starts from stage 1's adapters, stem, neck and heads, the frozen encoder
    from the weights file; tested with typed keys per dataset."""
    from crossspec_mmseg.models.backbones import FoundationViT
    torch.manual_seed(0)
    encoder = FoundationViT('uni', arch=dict(depth=3, embed_dim=32, num_heads=2),
                            out_indices=(0, 1, 2)).encoder
    weights = workdir / 'checkpoints' / 'uni' / 'pytorch_model.bin'
    weights.parent.mkdir(parents=True, exist_ok=True)
    torch.save(encoder.state_dict(), weights)
    names = ['uni-lora_contour_deeplabv3plus_pannuke',
             'uni-lora_contour_deeplabv3plus_pannuke-then-consep']
    paths = []
    for name in names:
        cfg = shrink(Config.fromfile(osp.join(REPO, 'configs', 'foundation', f'{name}.py')))
        if name.endswith('-then-consep'):  # stage 1 found where the tiny copy trained
            cfg.custom_hooks[0].update(config=paths[0])
            cfg.custom_hooks.append(dict(type='RecordStartWeightsHook'))
        paths.append(dump(cfg, workdir, name))
        run_tool(['tools/train.py', paths[-1]], '', cwd=str(workdir), fresh=False)
    stage1 = torch.load(workdir / 'work_dirs' / names[0] / 'iter_2.pth', map_location='cpu',
                        weights_only=False)['state_dict']
    start = STARTS[names[1]]
    assert any('lora_' in k for k in stage1) and any(k.startswith('backbone.stem.') for k in stage1)
    for key, value in stage1.items():
        if torch.is_tensor(value):
            assert torch.equal(start['state'][key], value), key
    # the frozen encoder came from the file, not from the checkpoint
    assert torch.equal(start['params']['backbone.encoder.blocks.0.attn.qkv.base_layer.weight'],
                       encoder.state_dict()['blocks.0.attn.qkv.weight'])
    last = (workdir / 'work_dirs' / names[1] / 'last_checkpoint').read_text().strip()
    run_tool(['tools/test.py', paths[1], last, '--work-dir', str(workdir / 'uni')], '',
             cwd=str(workdir), fresh=False)
    metrics = json.load(open(workdir / 'uni' / 'metrics.json'))
    assert all(f'dataset/{d}/mPQ' in metrics for d in TYPED)
