"""The stack is the real one: compiled mmcv ops, and the package registers."""
import torch


def test_mmcv_ops_are_compiled():
    import mmcv
    from mmcv.ops import nms
    from mmcv.utils import ext_loader

    assert mmcv.__version__ == '2.1.0'
    ext = ext_loader.load_ext('_ext', ['nms'])  # raises if the C++ extension is missing
    assert hasattr(ext, 'nms')
    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]], dtype=torch.float)
    scores = torch.tensor([0.9, 0.8, 0.7])
    _, keep = nms(boxes, scores, iou_threshold=0.5)
    assert keep.tolist() == [0, 2]


def test_import_registers_components():
    from mmengine.registry import MODEL_WRAPPERS
    from mmseg.registry import DATASETS, METRICS

    import crossspec_mmseg  # noqa: F401

    assert DATASETS.get('CrossSpeciesSegDataset') is not None
    assert METRICS.get('GroupIoUMetric') is not None
    assert MODEL_WRAPPERS.get('CPUDistributedDataParallel') is not None


def test_custom_imports_in_config_registers(tmp_path):
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import METRICS

    cfg_file = tmp_path / 'c.py'
    cfg_file.write_text("custom_imports = dict(imports=['crossspec_mmseg'], "
                        "allow_failed_imports=False)\nmetric = dict(type='GroupIoUMetric')\n")
    cfg = Config.fromfile(str(cfg_file))
    init_default_scope('mmseg')
    metric = METRICS.build(cfg.metric)
    assert type(metric).__name__ == 'GroupIoUMetric'


def build_plan_module():
    import importlib.util
    import os.path as osp
    import sys
    path = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'scripts',
                    'mmcv_build_plan.py')
    spec = importlib.util.spec_from_file_location('mmcv_build_plan', path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def make_plan(torch_cuda=None, gpus=(), nvcc=None, env=None, cores=16, mem=64.0, ninja=True,
              torch_version='2.4.1+cu124'):
    return build_plan_module().plan(torch_version, torch_cuda, list(gpus), nvcc, env or {},
                                    cores, mem, ninja)


def test_build_plan_cpu_torch():
    plan = make_plan(torch_version='2.13.0+cpu')
    assert (plan.ops, plan.arch_list) == ('cpu', '')
    assert plan.cache_key == 'torch-2.13.0_cpu-ops-cpu'


def test_build_plan_gpu_visible_without_nvcc_forces_cpu_ops():
    plan = make_plan(torch_cuda='12.4', gpus=[(8, 0)], nvcc=None)
    assert plan.ops == 'cpu' and 'no nvcc' in plan.reason and 'CUDA_HOME' in plan.reason
    assert plan.cache_key.endswith('-ops-cpu')


def test_build_plan_nvcc_major_must_match_torch():
    plan = make_plan(torch_cuda='12.4', gpus=[(8, 0)], nvcc='11.8')
    assert plan.ops == 'cpu' and 'nvcc is CUDA 11.8' in plan.reason


def test_build_plan_cuda_with_visible_gpus_uses_their_archs():
    plan = make_plan(torch_cuda='12.4', gpus=[(8, 0), (9, 0), (8, 0)], nvcc='12.6')
    assert plan.ops == 'cuda' and plan.arch_list == '8.0;9.0'
    assert plan.cache_key == 'torch-2.4.1_cu124-ops-cu12.4'  # never shared with a CPU build


def test_build_plan_no_gpu_visible_gets_default_archs():
    plan = make_plan(torch_cuda='12.4', gpus=[], nvcc='12.4')
    assert plan.ops == 'cuda' and plan.arch_list == '7.0;7.5;8.0;8.6;8.9;9.0+PTX'
    assert 'no GPU visible' in plan.arch_reason
    assert '7.0' not in make_plan(torch_cuda='13.0', nvcc='13.0').arch_list  # Volta dropped
    user = make_plan(torch_cuda='12.4', nvcc='12.4', env=dict(TORCH_CUDA_ARCH_LIST='8.6'))
    assert user.arch_list == '8.6'


def test_build_plan_jobs_capped_by_memory_and_ninja():
    assert make_plan(torch_cuda='12.4', nvcc='12.4', cores=32, mem=20.0).max_jobs == 5
    assert make_plan(cores=32, mem=6.0).max_jobs == 4  # c++ jobs need less
    assert make_plan(cores=32, mem=64.0, ninja=False).max_jobs == 1  # serial anyway
    assert make_plan(env=dict(MAX_JOBS='3')).max_jobs == 3


def test_build_plan_shell_output_and_nvcc_parsing():
    module = build_plan_module()
    out = make_plan(torch_cuda='12.4', nvcc='12.4').shell()
    assert "MMCV_OPS=cuda" in out and "MMCV_ARCH_LIST='7.0;7.5" in out

    class Done:
        stdout = 'Cuda compilation tools, release 12.6, V12.6.77'
    assert module.nvcc_version('/x/nvcc', run=lambda *a, **k: Done()) == '12.6'
    assert module.nvcc_version(None) is None
