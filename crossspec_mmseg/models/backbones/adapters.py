"""LoRA / DoRA adapters on a ViT's attention projections, through ``peft``.

``peft`` (it brings ``transformers``) is imported only here, when an adapter
is asked for: ``pip install 'crossspec_mmseg[adapters]'``.
"""
import torch.nn as nn

__all__ = ['inject_lora', 'merge_adapters']

#: timm ViT attention projections (not the patch embedding's ``proj``).
ATTENTION_PROJECTIONS = r'.*blocks\.\d+\.attn\.(qkv|proj)'


def _peft():
    try:
        import peft
    except ImportError:
        raise ImportError("LoRA/DoRA adapters need peft: pip install 'crossspec_mmseg[adapters]' "
                          "(make install installs it)") from None
    return peft


def inject_lora(encoder: nn.Module, r: int = 8, alpha: float = 16, dropout: float = 0.0,
                targets: str = ATTENTION_PROJECTIONS, dora: bool = False) -> nn.Module:
    """Add LoRA (or DoRA) adapters in place; only they train in ``encoder``."""
    peft = _peft()
    config = peft.LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout,
                             target_modules=targets, use_dora=dora, bias='none')
    peft.inject_adapter_in_model(config, encoder)
    for name, param in encoder.named_parameters():
        param.requires_grad = 'lora_' in name
    if not any(p.requires_grad for p in encoder.parameters()):
        raise ValueError(f'no module of the encoder matches the adapter targets {targets!r}')
    return encoder


def merge_adapters(module: nn.Module) -> int:
    """Fold every adapter into its base weights (faster inference); returns how
    many layers were merged."""
    from peft.tuners.tuners_utils import BaseTunerLayer
    layers = [m for m in module.modules() if isinstance(m, BaseTunerLayer)]
    for layer in layers:
        layer.merge()
    return len(layers)
