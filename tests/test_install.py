"""The stack is the real one: compiled mmcv ops, and the package registers."""
import fnmatch
import os
import re
import subprocess
import sys

import pytest
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


def test_torchvision_timm_and_peft_work_beside_mmcv_ops():
    """timm imports torchvision, whose ops must be registered for this torch (a mismatched
    pair fails with "operator torchvision::nms does not exist")."""
    import peft  # noqa: F401
    import timm
    import torchvision
    from mmcv.ops import nms as mmcv_nms
    from torchvision.ops import nms

    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]], dtype=torch.float)
    scores = torch.tensor([0.9, 0.8, 0.7])
    assert nms(boxes, scores, 0.5).tolist() == mmcv_nms(boxes, scores, 0.5)[1].tolist() == [0, 2]
    # the pair is the one built together: torchvision 0.(minor + 15) for torch 2.minor
    torch_minor = int(torch.__version__.split('.')[1])
    assert torchvision.__version__.split('.')[:2] == ['0', str(torch_minor + 15)]
    model = timm.create_model('resnet18', pretrained=False, num_classes=0).eval()
    with torch.no_grad():
        assert model(torch.zeros(1, 3, 32, 32)).shape == (1, 512)


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


REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def build_plan_module():
    import importlib.util
    path = os.path.join(REPO, 'scripts', 'mmcv_build_plan.py')
    spec = importlib.util.spec_from_file_location('mmcv_build_plan', path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


#: the arch names torch's extension builder accepts (``supported_arches``), by torch version
TORCH_26_ARCHS = ['3.5', '3.7', '5.0', '5.2', '5.3', '6.0', '6.1', '6.2', '7.0', '7.2', '7.5',
                  '8.0', '8.6', '8.7', '8.9', '9.0', '9.0a']
TORCH_27_ARCHS = TORCH_26_ARCHS + ['10.0', '10.0a', '12.0', '12.0a']


def make_plan(torch_cuda=None, gpus=(), nvcc=None, env=None, cores=16, mem=64.0, ninja=True,
              torch_version='2.4.1+cu124', python_tag='cp311', platform='linux_x86_64',
              torch_archs=TORCH_27_ARCHS):
    return build_plan_module().plan(torch_version, torch_cuda, list(gpus), nvcc, env or {},
                                    cores, mem, ninja, python_tag=python_tag,
                                    platform=platform, torch_archs=torch_archs)


def test_build_plan_cpu_torch():
    plan = make_plan(torch_version='2.13.0+cpu')
    assert (plan.ops, plan.arch_list) == ('cpu', '')
    assert plan.cache_key == 'torch-2.13.0_cpu-ops-cpu-cp311-linux_x86_64'
    assert plan.wheel_glob == 'mmcv-2.1.0-cp311-cp311-linux_x86_64.whl'


def test_build_plan_gpu_visible_without_nvcc_forces_cpu_ops():
    plan = make_plan(torch_cuda='12.4', gpus=[(8, 0)], nvcc=None)
    assert plan.ops == 'cpu' and 'no nvcc' in plan.reason and 'CUDA_HOME' in plan.reason
    assert plan.cache_key == 'torch-2.4.1_cu124-ops-cpu-cp311-linux_x86_64'


def test_build_plan_nvcc_major_must_match_torch():
    plan = make_plan(torch_cuda='12.4', gpus=[(8, 0)], nvcc='11.8')
    assert plan.ops == 'cpu' and 'nvcc is CUDA 11.8' in plan.reason


def test_build_plan_cuda_with_visible_gpus_uses_their_archs_ptx_on_the_highest():
    plan = make_plan(torch_cuda='12.4', gpus=[(8, 0), (9, 0), (8, 0)], nvcc='12.6')
    assert plan.ops == 'cuda' and plan.arch_list == '8.0;9.0+PTX'  # an H100 runs an A100 build
    assert 'visible GPUs' in plan.arch_reason
    assert make_plan(torch_cuda='12.4', gpus=[(8, 0)], nvcc='12.4').arch_list == '8.0+PTX'
    # numeric order: 10.0 is above 9.0
    blackwell = make_plan(torch_cuda='12.8', gpus=[(10, 0), (9, 0)], nvcc='12.8')
    assert blackwell.arch_list == '9.0;10.0+PTX'
    assert plan.cache_key.startswith('torch-2.4.1_cu124-ops-cu12.4-nvcc12.6-arch-')  # not CPU
    assert plan.cpu_cache_key == make_plan(gpus=[(8, 0)]).cache_key  # the CPU fallback's


def test_build_plan_visible_gpu_newer_than_torch_gets_highest_known_arch():
    plan = make_plan(torch_cuda='12.8', gpus=[(10, 0)], nvcc='12.8', torch_archs=TORCH_26_ARCHS)
    assert plan.arch_list == '9.0+PTX' and '10.0 built as 9.0' in plan.arch_reason


def test_build_plan_cache_key_has_arch_list_python_tag_and_platform():
    def key(**kw):
        return make_plan(torch_cuda='12.4', nvcc='12.4', **kw).cache_key
    a100, h100 = key(gpus=[(8, 0)]), key(gpus=[(9, 0)])
    assert a100 != h100
    assert key(gpus=[(8, 0)], python_tag='cp310') != a100
    assert make_plan(torch_cuda='12.4', nvcc='12.6', gpus=[(8, 0)]).cache_key != a100
    assert key(gpus=[(8, 0)], platform='linux_aarch64') != a100
    assert key(gpus=[(8, 0)], python_tag='cp310').endswith('-cp310-linux_x86_64')
    assert key(gpus=[(8, 0)], platform='linux_aarch64').endswith('-cp311-linux_aarch64')
    # CPU builds too
    cpu = make_plan(torch_version='2.13.0+cpu')
    assert cpu.cache_key != make_plan(torch_version='2.13.0+cpu', python_tag='cp310').cache_key
    assert cpu.cache_key != make_plan(torch_version='2.13.0+cpu',
                                      platform='linux_aarch64').cache_key
    # a user's list: normalised (order, spaces, repeats) before it is hashed; a safe name
    env = dict(TORCH_CUDA_ARCH_LIST='9.0 8.0;8.0')
    user = make_plan(torch_cuda='12.4', nvcc='12.4', env=env)
    assert user.arch_list == '9.0 8.0;8.0' and user.arch_key == '8.0;9.0'
    assert user.cache_key == key(env=dict(TORCH_CUDA_ARCH_LIST='8.0;9.0'))
    assert user.cache_key != key(env=dict(TORCH_CUDA_ARCH_LIST='8.0;9.0+PTX'))
    assert re.fullmatch(r'[A-Za-z0-9._+-]+', user.cache_key)


def test_build_plan_wheel_glob_matches_only_this_interpreter():
    plan = make_plan(torch_version='2.13.0+cpu')
    assert fnmatch.fnmatchcase('mmcv-2.1.0-cp311-cp311-linux_x86_64.whl', plan.wheel_glob)
    for other in ('mmcv-2.1.0-cp310-cp310-linux_x86_64.whl',
                  'mmcv-2.1.0-cp311-cp311-linux_aarch64.whl'):
        assert not fnmatch.fnmatchcase(other, plan.wheel_glob)
    module = build_plan_module()
    assert module.wheel_platform('linux-x86_64') == 'linux_x86_64'
    assert module.wheel_platform('macosx-11.0-arm64') == 'macosx_11_0_arm64'
    mac = make_plan(platform='macosx_11_0_arm64')
    assert fnmatch.fnmatchcase('mmcv-2.1.0-cp311-cp311-macosx_14_0_arm64.whl', mac.wheel_glob)
    python_tag, abi_tag = module.interpreter_tags()
    assert python_tag == 'cp%d%d' % sys.version_info[:2] and abi_tag.startswith(python_tag)


def test_install_sh_cached_wheel_takes_only_this_interpreters_wheel(tmp_path):
    glob = make_plan(torch_version='2.13.0+cpu').wheel_glob
    local, user = tmp_path / 'local', tmp_path / 'user'
    local.mkdir()
    user.mkdir()
    for name in ('mmcv-2.1.0-cp310-cp310-linux_x86_64.whl',
                 'mmcv-2.1.0-cp311-cp311-linux_aarch64.whl'):
        (local / name).write_bytes(b'')

    def lookup(*dirs):
        return subprocess.run(
            ['bash', '-c', 'source scripts/install.sh && cached_wheel "$@"', 'bash', glob,
             *map(str, dirs)], cwd=REPO, capture_output=True, text=True)
    miss = lookup(local, tmp_path / 'absent')
    assert (miss.returncode, miss.stdout) == (1, '')
    (user / 'mmcv-2.1.0-cp311-cp311-linux_x86_64.whl').write_bytes(b'')
    hit = lookup(local, user)
    assert hit.returncode == 0
    assert hit.stdout == f'{user}/mmcv-2.1.0-cp311-cp311-linux_x86_64.whl\n'


#: asks for CUDA ops without a visible GPU (nvcc's default architectures)
ASK_CUDA = dict(CROSSSPEC_MMCV_OPS='cuda')


def test_build_plan_no_gpu_visible_builds_cpu_ops_unless_cuda_is_asked_for():
    # torch's default wheels are CUDA builds and CPU-only images and CI runners carry
    # nvcc: without a GPU, no CUDA kernels for 7 architectures (hours on 2 cores)
    plan = make_plan(torch_cuda='13.0', gpus=[], nvcc='13.0', torch_version='2.14.1+cu130')
    assert (plan.ops, plan.arch_list, plan.arch_key) == ('cpu', '', '')
    assert 'no GPU visible' in plan.reason and 'TORCH_CUDA_ARCH_LIST' in plan.reason
    assert 'CROSSSPEC_MMCV_OPS=cuda' in plan.reason
    assert plan.cache_key == 'torch-2.14.1_cu130-ops-cpu-cp311-linux_x86_64'
    # asked for: nvcc's default list (a login node, a container build)
    asked = make_plan(torch_cuda='12.4', nvcc='12.4', env=ASK_CUDA)
    assert asked.ops == 'cuda' and asked.arch_list == '7.0;7.5;8.0;8.6;8.9;9.0+PTX'
    assert 'no GPU visible' in asked.arch_reason and 'CROSSSPEC_MMCV_OPS=cuda' in asked.reason
    assert '7.0' not in make_plan(torch_cuda='13.0', nvcc='13.0', env=ASK_CUDA).arch_list
    user = make_plan(torch_cuda='12.4', nvcc='12.4', env=dict(TORCH_CUDA_ARCH_LIST='8.6'))
    assert user.ops == 'cuda' and user.arch_list == '8.6'  # no +PTX added
    assert 'as given' in user.arch_reason and 'TORCH_CUDA_ARCH_LIST' in user.reason
    # asking does not make CUDA ops out of a CPU torch or a missing nvcc
    assert make_plan(env=ASK_CUDA).ops == 'cpu'
    assert make_plan(torch_cuda='12.4', env=ASK_CUDA).ops == 'cpu'
    # cpu forces CPU ops, even with a GPU; anything else is refused
    forced = make_plan(torch_cuda='12.4', gpus=[(8, 0)], nvcc='12.4',
                       env=dict(CROSSSPEC_MMCV_OPS='cpu'))
    assert forced.ops == 'cpu' and 'CROSSSPEC_MMCV_OPS=cpu' in forced.reason
    assert make_plan(torch_cuda='12.4', gpus=[(8, 0)], nvcc='12.4',
                     env=dict(CROSSSPEC_MMCV_OPS='auto')).ops == 'cuda'
    with pytest.raises(ValueError, match='CROSSSPEC_MMCV_OPS'):
        make_plan(env=dict(CROSSSPEC_MMCV_OPS='gpu'))


def test_build_plan_default_archs_only_those_torch_accepts():
    old = make_plan(torch_cuda='12.8', nvcc='12.8', torch_version='2.6.0+cu126',
                    torch_archs=TORCH_26_ARCHS, env=ASK_CUDA)
    assert old.ops == 'cuda' and old.arch_list == '7.0;7.5;8.0;8.6;8.9;9.0+PTX'
    assert '10.0, 12.0' in old.arch_reason
    new = make_plan(torch_cuda='12.8', nvcc='12.8', torch_version='2.7.0+cu128', env=ASK_CUDA)
    assert new.arch_list == '7.0;7.5;8.0;8.6;8.9;9.0;10.0;12.0+PTX'
    unknown = make_plan(torch_cuda='12.8', nvcc='12.8', torch_archs=None, env=ASK_CUDA)
    assert unknown.arch_list == new.arch_list and 'unknown' in unknown.arch_reason
    none = make_plan(torch_cuda='12.8', nvcc='12.8', torch_archs=['3.5'], env=ASK_CUDA)
    assert none.ops == 'cpu' and 'TORCH_CUDA_ARCH_LIST' in none.reason


#: the lines of mmcv 2.1.0's setup.py that name a C++ standard (torch <= 1.12.1, then newer)
MMCV_SETUP_STD_LINES = """\
            'nvcc': [cuda_args, '-std=c++14'] if cuda_args else ['-std=c++14'],
            'cxx': ['-std=c++14'],
                extra_compile_args['cxx'] = ['-std=c++14']
                extra_compile_args['cxx'] = ['-std=c++17']
                extra_compile_args['cxx'] = ['/std:c++14']
                extra_compile_args['cxx'] = ['/std:c++17']
            extra_compile_args['cxx'] = ['-Wall', '-std=c++17']
        # will depend on c++17 or higher. In fact, for the windows
                extra_compile_args['nvcc'] += ['-std=c++14']
                extra_compile_args['nvcc'] += ['-std=c++17']
"""


def test_torch_cxx_std_from_torch_headers():
    module = build_plan_module()
    header = '#if !defined(_MSC_VER) && __cplusplus < {}L\n#error C++ ... required\n#endif\n'
    assert module.torch_cxx_std(header.format(201703), '2.13.0+cpu') == 'c++17'
    assert module.torch_cxx_std(header.format(202002), '2.13.0+cpu') == 'c++20'  # header wins
    # no header to read: by version
    assert module.torch_cxx_std(None, '2.14.1+cu130') == 'c++20'
    assert module.torch_cxx_std(None, '2.13.0+cpu') == 'c++17'
    assert module.torch_cxx_std('', '3.0.0') == 'c++20'
    # the installed torch's own header agrees with its version
    aten = os.path.join(os.path.dirname(torch.__file__), 'include', 'ATen', 'ATen.h')
    with open(aten) as f:
        installed = module.torch_cxx_std(f.read(), torch.__version__)
    assert installed == module.torch_cxx_std(None, torch.__version__)
    plan = make_plan(torch_version='2.14.1+cu130', torch_cuda='13.0', nvcc='13.0')
    assert plan.cxx_std == 'c++17'  # the default: nothing to patch
    patched = build_plan_module().plan('2.14.1+cu130', '13.0', [], '13.0', {}, 2, 8.0, True,
                                       python_tag='cp311', platform='linux_x86_64',
                                       torch_archs=None, cxx_std='c++20')
    assert 'MMCV_CXX_STD=c++20' in patched.shell().splitlines()


def test_install_sh_patches_mmcv_cxx_std(tmp_path):
    (tmp_path / 'setup.py').write_text(MMCV_SETUP_STD_LINES)

    def patch():
        return subprocess.run(['bash', '-c', 'source scripts/install.sh && patch_mmcv_std "$@"',
                               'bash', str(tmp_path), 'c++20'], cwd=REPO,
                              capture_output=True, text=True)
    assert patch().returncode == 0
    lines = (tmp_path / 'setup.py').read_text().splitlines()
    old = MMCV_SETUP_STD_LINES.splitlines()
    changed = [(a.strip(), b.strip()) for a, b in zip(old, lines) if a != b]
    assert changed == [("extra_compile_args['cxx'] = ['-std=c++17']",
                        "extra_compile_args['cxx'] = ['-std=c++20']"),
                       ("extra_compile_args['cxx'] = ['/std:c++17']",
                        "extra_compile_args['cxx'] = ['/std:c++20']"),
                       ("extra_compile_args['cxx'] = ['-Wall', '-std=c++17']",
                        "extra_compile_args['cxx'] = ['-Wall', '-std=c++20']"),
                       ("extra_compile_args['nvcc'] += ['-std=c++17']",
                        "extra_compile_args['nvcc'] += ['-std=c++20']")]
    assert patch().returncode == 1  # nothing left to patch: another setup.py, say so


def test_install_sh_torch_action():
    def action(version, ours, vision):
        return subprocess.run(['bash', '-c', 'source scripts/install.sh && torch_action "$@"',
                               'bash', version, ours, vision], cwd=REPO, capture_output=True,
                              text=True).stdout.strip()
    assert action('', 'no', 'no') == 'install'  # no torch: the pair
    # the venv this script made: a missing or broken torchvision, or the old torch, is replaced
    assert action('2.13.0+cpu', 'yes', 'no') == 'install'
    assert action('2.13.0+cpu', 'yes', 'yes') == 'install'
    assert action('2.14.1+cu130', 'yes', 'no') == 'install'
    assert action('2.14.1+cu130', 'yes', 'yes') == 'keep'
    # a user's torch is never replaced: kept with a torchvision, else stop
    assert action('2.4.1+cu124', 'no', 'yes') == 'keep'
    assert action('2.4.1+cu124', 'no', 'no') == 'stop'
    assert action('2.13.0+cpu', 'no', 'no') == 'stop'


def test_install_sh_torchvision_hint_names_the_release_for_the_users_torch():
    def hint(version):
        return subprocess.run(['bash', '-c', 'source scripts/install.sh && torchvision_hint "$1"',
                               'bash', version], cwd=REPO, capture_output=True, text=True).stdout
    cuda = hint('2.4.1+cu124')
    assert cuda.count('\n') == 1 and 'torch 2.4.1+cu124' in cuda and 'timm' in cuda
    assert "'torchvision==0.19.*' --index-url https://download.pytorch.org/whl/cu124" in cuda
    assert "'torchvision==0.29.*', then" in hint('2.14.1')  # PyPI's build: no index
    assert "'torchvision==0.14.*' --index-url https://download.pytorch.org/whl/cpu" in hint(
        '1.13.1+cpu')


def test_torch_accepted_archs_read_from_torch(tmp_path, monkeypatch):
    import importlib.util
    module = build_plan_module()
    archs = module.torch_accepted_archs()  # the installed torch
    assert archs and '8.0' in archs and not any('PTX' in a for a in archs)

    def load(name, source):
        path = tmp_path / f'{name}.py'
        path.write_text(source)
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod
    literal = load('cpp_ext_literal', "def _get_cuda_arch_flags():\n"
                                      "    supported_arches = ['8.0', '9.0']\n")
    assert module.torch_accepted_archs(literal) == ['8.0', '9.0']
    # no literal to read: each candidate is put to the function itself
    probed = load('cpp_ext_probe', "import os\n"
                                   "def _get_cuda_arch_flags():\n"
                                   "    if os.environ['TORCH_CUDA_ARCH_LIST'] == '10.0':\n"
                                   "        raise ValueError('Unknown CUDA arch (10.0)')\n"
                                   "    return []\n")
    monkeypatch.setenv('TORCH_CUDA_ARCH_LIST', 'mine')
    assert module.torch_accepted_archs(probed, ['9.0', '10.0']) == ['9.0']
    assert os.environ['TORCH_CUDA_ARCH_LIST'] == 'mine'  # restored
    assert module.torch_accepted_archs(load('cpp_ext_none', 'x = 1\n'), ['9.0']) is None


def test_find_nvcc_cuda_home_then_path_then_usr_local_cuda(tmp_path):
    module = build_plan_module()

    def toolkit(name):
        nvcc = tmp_path / name / 'bin' / 'nvcc'
        nvcc.parent.mkdir(parents=True)
        nvcc.write_text('')
        return str(nvcc)
    default, home = toolkit('usr-local-cuda'), toolkit('cuda-12.4')
    default_home = str(tmp_path / 'usr-local-cuda')

    def find(env, on_path=None):
        return module.find_nvcc(env, which=lambda name: on_path, default_home=default_home)
    assert find({}) == default  # where torch looks when nothing else says
    assert find({}, on_path='/opt/bin/nvcc') == '/opt/bin/nvcc'
    assert find(dict(CUDA_HOME=str(tmp_path / 'cuda-12.4')), on_path='/opt/bin/nvcc') == home
    assert module.find_nvcc({}, which=lambda name: None,
                            default_home=str(tmp_path / 'absent')) is None


def test_build_plan_jobs_capped_by_memory_and_ninja():
    assert make_plan(torch_cuda='12.4', nvcc='12.4', gpus=[(8, 0)], cores=32,
                     mem=20.0).max_jobs == 5
    assert make_plan(cores=32, mem=6.0).max_jobs == 4  # c++ jobs need less
    assert make_plan(cores=32, mem=64.0, ninja=False).max_jobs == 1  # serial anyway
    assert make_plan(env=dict(MAX_JOBS='3')).max_jobs == 3


def test_build_plan_shell_output_and_nvcc_parsing():
    module = build_plan_module()
    out = make_plan(torch_cuda='12.4', nvcc='12.4', env=ASK_CUDA).shell()
    assert "MMCV_OPS=cuda" in out and "MMCV_ARCH_LIST='7.0;7.5" in out
    shown = subprocess.run(['bash', '-c', 'eval "$1"; printf "%s|%s" "$MMCV_WHEEL_GLOB" '
                            '"$MMCV_CPU_CACHE_KEY"', 'bash', out],
                           capture_output=True, text=True).stdout
    assert shown == ('mmcv-2.1.0-cp311-cp311-linux_x86_64.whl|'
                     'torch-2.4.1_cu124-ops-cpu-cp311-linux_x86_64')

    class Done:
        stdout = 'Cuda compilation tools, release 12.6, V12.6.77'
    assert module.nvcc_version('/x/nvcc', run=lambda *a, **k: Done()) == '12.6'
    assert module.nvcc_version(None) is None
