"""``FoundationViT``: a pathology foundation model as an MMSeg backbone.

The encoder is built by timm from a preset (``foundation_presets``), its
published weights are read in ``__init__`` (MMSeg's test tool never calls
``init_weights``) before any adapter is injected, and it returns the patch
tokens of several blocks as feature maps for MMSeg's pyramid necks
(``Feature2Pyramid``, ``MultiLevelNeck``) and stock heads. Any input size
works: position embeddings are interpolated and inputs padded to the patch.

``tuning``: ``'frozen'`` (the encoder only; it runs without autograd),
``'lora'``/``'dora'`` (peft adapters on the attention projections; the rest of
the encoder frozen) or ``'full'`` (everything trains; pair it with
``ViTLayerDecayOptimizerConstructor``). A frozen encoder read from a file is
left out of checkpoints: they hold what trains plus a reference to the file.
"""
import json
from typing import Dict, Optional, Sequence

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmengine.logging import print_log
from mmengine.model import BaseModule
from mmseg.registry import MODELS

from crossspec_mmseg.errors import BadWeightsError

from .foundation_presets import get_preset
from .foundation_weights import load_encoder_weights

__all__ = ['FoundationViT', 'decode_reference']

TUNINGS = ('frozen', 'lora', 'dora', 'full')


def build_timm_encoder(preset, arch: Optional[Dict], drop_path_rate: float) -> nn.Module:
    """The preset's timm ViT without a classifier, for any input size; ``arch``
    overrides its timm arguments (tiny encoders of the same structure in tests)."""
    import timm
    from timm.layers import SwiGLUPacked
    kwargs = dict(preset.timm_kwargs, **(arch or {}))
    if kwargs.get('mlp_layer') == 'SwiGLUPacked':
        kwargs['mlp_layer'] = SwiGLUPacked
        hidden = int(kwargs.get('embed_dim', 0) * kwargs.get('mlp_ratio', 4.0))
        if 'embed_dim' in (arch or {}) and hidden % 2:
            raise ValueError(f'{preset.name}: SwiGLU needs an even hidden size; embed_dim '
                             f'{kwargs["embed_dim"]} x mlp_ratio gives {hidden}')
    kwargs.setdefault('img_size', 224)
    return timm.create_model(preset.timm_model, pretrained=False, num_classes=0,
                             global_pool='', dynamic_img_size=True, dynamic_img_pad=True,
                             drop_path_rate=drop_path_rate, **kwargs)


def encode_reference(reference: Dict) -> torch.Tensor:
    return torch.tensor(list(json.dumps(reference).encode()), dtype=torch.uint8)


def decode_reference(state) -> Dict:
    """A checkpoint's ``backbone._extra_state``: preset, weights file, its size, tuning."""
    if torch.is_tensor(state):
        return json.loads(bytes(state.tolist()).decode())
    return state if isinstance(state, dict) else {}


def conv_stem(channels: int, norm_cfg: Dict) -> nn.Sequential:
    """Two stride-2 3x3 convolutions on the image: a stride-4 map with the
    detail a 14/16 px patch grid loses (nuclei)."""
    return nn.Sequential(
        ConvModule(3, channels // 2, 3, stride=2, padding=1, norm_cfg=norm_cfg),
        ConvModule(channels // 2, channels, 3, stride=2, padding=1, norm_cfg=norm_cfg))


@MODELS.register_module()
class FoundationViT(BaseModule):
    """A timm ViT foundation encoder returning multi-level feature maps.

    Args:
        preset: ``uni``, ``uni2``, ``virchow2``, ``hoptimus0``, ``hoptimus1``,
            ``phikon2`` or ``gigapath`` (``PRESETS``).
        weights: the downloaded weights file; ``None`` builds a random encoder
            (training from scratch, ``tools/train.py --no-pretrained``).
        sha256: the file's checksum, checked before reading (default: the
            preset's published one, where known).
        out_indices: blocks whose tokens are returned (default four evenly
            spaced ones, the last included).
        tuning: ``frozen``, ``lora``, ``dora`` or ``full``.
        lora: ``r``, ``alpha``, ``dropout`` and ``targets`` (module-name regex)
            of the adapters (``lora``/``dora``).
        stem_channels: > 0 adds a convolutional stem whose stride-4 map is
            returned first (the finest level for nuclei heads).
        with_cp: gradient checkpointing of the blocks.
        arch: timm arguments overriding the preset's (``depth``,
            ``embed_dim``, ``num_heads``: tiny encoders of the same structure).
    """

    def __init__(self, preset: str = 'uni', weights: Optional[str] = None,
                 sha256: Optional[str] = None, out_indices: Optional[Sequence[int]] = None,
                 tuning: str = 'frozen', lora: Optional[Dict] = None, stem_channels: int = 0,
                 with_cp: bool = False, arch: Optional[Dict] = None,
                 drop_path_rate: float = 0.0, norm_cfg: Optional[Dict] = None,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if tuning not in TUNINGS:
            raise ValueError(f'FoundationViT: tuning {tuning!r} is not one of {TUNINGS}')
        self.preset = get_preset(preset)
        self.tuning = tuning
        self.encoder = build_timm_encoder(self.preset, arch, drop_path_rate)
        self.patch_size = self.encoder.patch_embed.patch_size[0]
        depth = len(self.encoder.blocks)
        self.out_indices = tuple(out_indices) if out_indices is not None else tuple(
            depth * (i + 1) // 4 - 1 for i in range(4))
        if not all(0 <= i < depth for i in self.out_indices):
            raise ValueError(f'FoundationViT: out_indices {self.out_indices} outside the '
                             f'{depth} blocks of {preset}')
        self.weights = weights
        self.weights_bytes = None
        if weights is not None:
            self.weights_bytes = load_encoder_weights(
                self.encoder, weights, self.preset.layout, self.preset.published,
                sha256 or self.preset.sha256)
            print_log(f'FoundationViT: {self.preset.title} weights from {weights}',
                      logger='current')
        else:
            print_log(f'FoundationViT: {self.preset.title} with random weights (no file)',
                      logger='current')
        # mmengine's init_weights() (the runner calls it before training) would run
        # timm's own initialisation again over the weights just read: the encoder is
        # initialised here, once.
        self.encoder.is_init = True
        self.encoder.set_grad_checkpointing(with_cp)
        for param in self.encoder.parameters():
            param.requires_grad = tuning == 'full'
        if tuning in ('lora', 'dora'):
            from .adapters import inject_lora
            inject_lora(self.encoder, dora=tuning == 'dora', **(lora or {}))
        self.stem = conv_stem(stem_channels, norm_cfg or dict(type='BN', requires_grad=True)) \
            if stem_channels else None
        self._register_state_dict_hook(FoundationViT._drop_file_weights)
        self._register_load_state_dict_pre_hook(self._remember_prefix)
        self.register_load_state_dict_post_hook(FoundationViT._file_weights_not_missing)

    # -- what a checkpoint holds -------------------------------------------------
    def _from_file(self):
        """Names (in ``encoder``) of the parameters the weights file provides and
        the tuning never trains: all but the adapters, unless tuned in full. (Not
        "what is frozen now": a finetune stage freezes the stage-1 adapters too.)"""
        if self.weights is None or self.tuning == 'full':
            return set()
        return {n for n, _ in self.encoder.named_parameters() if 'lora_' not in n}

    @staticmethod
    def _drop_file_weights(module, state_dict, prefix, local_metadata):
        for name in module._from_file():
            state_dict.pop(f'{prefix}encoder.{name}', None)
        return state_dict

    def _remember_prefix(self, state_dict, prefix, *args):
        self._load_prefix = prefix

    @staticmethod
    def _file_weights_not_missing(module, incompatible_keys):
        prefix = f'{getattr(module, "_load_prefix", "")}encoder.'
        from_file = module._from_file()
        incompatible_keys.missing_keys[:] = [
            k for k in incompatible_keys.missing_keys
            if not (k.startswith(prefix) and k[len(prefix):] in from_file)]

    def get_extra_state(self) -> torch.Tensor:
        """The weights file this model stands on, as JSON bytes in a tensor
        (mmengine broadcasts the whole state dict in distributed training)."""
        return encode_reference(dict(preset=self.preset.name, weights=self.weights,
                                     weights_bytes=self.weights_bytes, tuning=self.tuning))

    def set_extra_state(self, state):
        """Refuse a checkpoint trained on top of another weights file than the
        one this model read (it does not hold the frozen encoder)."""
        state = decode_reference(state)
        if state.get('weights') is None:
            return
        if self.weights is None:
            raise BadWeightsError(
                f'this checkpoint holds only what trained on top of {state["weights"]} '
                f'({state["preset"]}): set model.backbone.weights to that file')
        if state.get('weights_bytes') != self.weights_bytes:
            raise BadWeightsError(
                f'this checkpoint was trained on top of {state["weights"]} '
                f'({state["weights_bytes"]} bytes), not {self.weights} '
                f'({self.weights_bytes} bytes)')

    # -- running -----------------------------------------------------------------
    def train(self, mode: bool = True):
        super().train(mode)
        if self.tuning == 'frozen':
            self.encoder.eval()  # no drop-path or dropout in what does not train
        return self

    def forward(self, inputs: torch.Tensor):
        with torch.set_grad_enabled(torch.is_grad_enabled() and self.tuning != 'frozen'):
            feats = self.encoder.forward_intermediates(
                inputs, indices=list(self.out_indices), intermediates_only=True,
                stop_early=True)
        feats = list(feats)
        if self.stem is not None:
            feats.insert(0, self.stem(inputs))
        return tuple(feats)

