"""Architecture presets of the pathology foundation models ``FoundationViT`` builds.

Each preset is what its model card publishes: the timm architecture and the
arguments that reproduce it, the layout its weights come in, the
normalisation and the um/px the encoder was trained at, and where the weights
are published (all of them behind a licence; most are gated: accept the terms
on the page, then download the file). Nothing here downloads anything.
"""
from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

__all__ = ['FoundationPreset', 'PRESETS', 'get_preset']

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: timm's names for the SwiGLU MLP (packed fc1) and its activation, resolved at build time.
SWIGLU = dict(mlp_layer='SwiGLUPacked', act_layer='silu')


@dataclass(frozen=True)
class FoundationPreset:
    """One published encoder: how to build it with timm and where its weights are."""
    name: str
    title: str
    timm_model: str
    timm_kwargs: Dict = field(default_factory=dict)
    layout: str = 'timm'  # 'timm' or 'hf_dinov2' (HF transformers, separate q/k/v)
    mean: Tuple[float, float, float] = IMAGENET_MEAN  # in [0, 1]
    std: Tuple[float, float, float] = IMAGENET_STD
    mpp: float = 0.5  # um/px the encoder was trained at
    url: str = ''
    weights_file: str = ''  # the file's name on that page
    licence: str = ''
    sha256: Optional[str] = None  # published checksum of weights_file, where one is known

    @property
    def published(self) -> str:
        """Where the weights are, and on what terms, in one phrase."""
        return f'{self.url} ({self.weights_file}; {self.licence})'


#: H-optimus-0 and -1 share the architecture and the normalisation.
H_OPTIMUS = dict(timm_model='vit_giant_patch14_reg4_dinov2', timm_kwargs=dict(init_values=1e-5),
                 mean=(0.707223, 0.578729, 0.703617), std=(0.211883, 0.230117, 0.177517),
                 weights_file='pytorch_model.bin')

PRESETS = {p.name: p for p in (
    FoundationPreset(
        'uni', 'UNI (ViT-L/16, layer scale)', 'vit_large_patch16_224',
        dict(init_values=1e-5),
        url='https://huggingface.co/MahmoodLab/UNI', weights_file='pytorch_model.bin',
        licence='CC-BY-NC-ND-4.0, gated: request access on the page'),
    FoundationPreset(
        'uni2', 'UNI2-h (ViT-H/14, SwiGLU, 8 registers)', 'vit_giant_patch14_224',
        dict(SWIGLU, depth=24, num_heads=24, embed_dim=1536, mlp_ratio=2.66667 * 2,
             init_values=1e-5, no_embed_class=True, reg_tokens=8),
        url='https://huggingface.co/MahmoodLab/UNI2-h', weights_file='pytorch_model.bin',
        licence='CC-BY-NC-ND-4.0, gated: request access on the page'),
    FoundationPreset(
        'virchow2', 'Virchow2 (ViT-H/14, SwiGLU, 4 registers)', 'vit_huge_patch14_224',
        dict(SWIGLU, mlp_ratio=5.3375, init_values=1e-5, reg_tokens=4),
        url='https://huggingface.co/paige-ai/Virchow2', weights_file='pytorch_model.bin',
        licence='CC-BY-NC-ND-4.0, gated: accept the terms on the page'),
    FoundationPreset(
        'hoptimus0', 'H-optimus-0 (ViT-g/14, 4 registers)', **H_OPTIMUS,
        url='https://huggingface.co/bioptimus/H-optimus-0', licence='Apache-2.0'),
    FoundationPreset(
        'hoptimus1', 'H-optimus-1 (ViT-g/14, 4 registers)', **H_OPTIMUS,
        url='https://huggingface.co/bioptimus/H-optimus-1',
        licence='non-commercial licence, gated: accept the terms on the page'),
    FoundationPreset(
        'phikon2', 'Phikon-v2 (ViT-L/16, DINOv2, HF transformers layout)',
        'vit_large_patch16_224', dict(init_values=1e-5), layout='hf_dinov2',
        url='https://huggingface.co/owkin/phikon-v2', weights_file='model.safetensors',
        licence='Owkin non-commercial licence'),
    FoundationPreset(
        'gigapath', 'Prov-GigaPath tile encoder (ViT-g/16, SwiGLU)', 'vit_giant_patch14_dinov2',
        dict(patch_size=16, mlp_ratio=5.33334, init_values=1e-5),
        url='https://huggingface.co/prov-gigapath/prov-gigapath',
        weights_file='pytorch_model.bin',
        licence='Prov-GigaPath licence, gated: accept the terms on the page'),
)}


def get_preset(name: str) -> FoundationPreset:
    """The preset called ``name``; an unknown name lists the known ones."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f'unknown foundation preset {name!r}; presets: '
                         f'{", ".join(sorted(PRESETS))}') from None
