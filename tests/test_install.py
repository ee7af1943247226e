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
    import crossspec_mmseg  # noqa: F401
    from mmengine.registry import MODEL_WRAPPERS
    from mmseg.registry import DATASETS, METRICS

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
