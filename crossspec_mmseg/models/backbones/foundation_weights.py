"""Reading a foundation model's published weights into a timm ViT.

The weights are a file the user downloaded (``.bin``/``.pth`` pickles read with
``weights_only=True``, or ``.safetensors``), in timm's key layout (UNI,
Virchow2, H-optimus, Prov-GigaPath) or HF transformers' DINOv2 layout
(Phikon-v2: separate q/k/v projections, mapped onto timm's fused ``qkv``).
A missing, truncated or foreign file stops with one line naming it.
"""
import hashlib
import os
import os.path as osp
import re
from typing import Dict, Optional

import torch

from crossspec_mmseg.errors import BadWeightsError, MissingWeightsError

__all__ = ['file_sha256', 'hf_dinov2_to_timm', 'load_encoder_weights', 'read_state_dict']

#: Wrappers training scripts put around a state dict, and prefixes they add to keys.
WRAPPER_KEYS = ('state_dict', 'model', 'teacher', 'module')
KEY_PREFIXES = ('module.', 'backbone.', 'encoder.', 'model.', 'dinov2.', 'trunk.')


def file_sha256(path: str, chunk: int = 1 << 24) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(chunk), b''):
            digest.update(block)
    return digest.hexdigest()


def read_state_dict(path: str) -> Dict[str, torch.Tensor]:
    """The tensors in ``path``, unwrapped from the usual containers."""
    try:
        if path.endswith('.safetensors'):
            from safetensors.torch import load_file
            state = load_file(path, device='cpu')
        else:
            state = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as err:  # truncated zip, not a pickle, foreign objects
        raise BadWeightsError(f'{path}: not a readable weights file '
                              f'({type(err).__name__}: {str(err).splitlines()[0][:160]}); '
                              'download it again') from None
    while isinstance(state, dict) and len(state) == 1 and next(iter(state)) in WRAPPER_KEYS:
        state = next(iter(state.values()))
    if isinstance(state, dict):
        for key in WRAPPER_KEYS:
            if isinstance(state.get(key), dict):
                state = state[key]
                break
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise BadWeightsError(f'{path}: holds no state dict of tensors')
    for prefix in KEY_PREFIXES:
        if state and all(k.startswith(prefix) for k in state):
            state = {k[len(prefix):]: v for k, v in state.items()}
    return state


def hf_dinov2_to_timm(state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """HF transformers' ``Dinov2Model`` keys -> timm ``VisionTransformer`` keys
    (q, k and v concatenated into ``qkv``; ``mask_token`` dropped). Both the
    published files' names (``attention.attention.query``, ``attention.output.dense``)
    and transformers 5's (``attention.q_proj``, ``attention.o_proj``) are read."""
    renames = [
        (r'^embeddings\.cls_token$', 'cls_token'),
        (r'^embeddings\.register_tokens$', 'reg_token'),
        (r'^embeddings\.position_embeddings$', 'pos_embed'),
        (r'^embeddings\.patch_embeddings\.projection\.', 'patch_embed.proj.'),
        (r'^encoder\.layer\.(\d+)\.norm(\d)\.', r'blocks.\1.norm\2.'),
        (r'^encoder\.layer\.(\d+)\.attention\.(output\.dense|o_proj)\.', r'blocks.\1.attn.proj.'),
        (r'^encoder\.layer\.(\d+)\.layer_scale(\d)\.lambda1$', r'blocks.\1.ls\2.gamma'),
        (r'^encoder\.layer\.(\d+)\.mlp\.fc(\d)\.', r'blocks.\1.mlp.fc\2.'),
        (r'^encoder\.layer\.(\d+)\.mlp\.weights_in\.', r'blocks.\1.mlp.fc1.'),
        (r'^encoder\.layer\.(\d+)\.mlp\.weights_out\.', r'blocks.\1.mlp.fc2.'),
        (r'^layernorm\.', 'norm.'),
    ]
    out, qkv = {}, {}
    for key, value in state.items():
        match = re.match(r'^encoder\.layer\.(\d+)\.attention\.(attention\.query|attention\.key|'
                         r'attention\.value|q_proj|k_proj|v_proj)\.(weight|bias)$', key)
        if match:
            block, part, kind = match.groups()
            part = {'q': 'query', 'k': 'key', 'v': 'value'}.get(part[0], part.split('.')[-1])
            qkv.setdefault((block, kind), {})[part] = value
            continue
        if key == 'embeddings.mask_token':
            continue
        new = key
        for pattern, repl in renames:
            new, n = re.subn(pattern, repl, new)
            if n:
                break
        out[new] = value
    for (block, kind), parts in qkv.items():
        if set(parts) != {'query', 'key', 'value'}:
            raise BadWeightsError(f'block {block}: {kind} of {sorted(parts)} only, '
                                  'q, k and v all needed')
        out[f'blocks.{block}.attn.qkv.{kind}'] = torch.cat(
            [parts['query'], parts['key'], parts['value']])
    if 'cls_token' in out and out['cls_token'].dim() == 2:
        out['cls_token'] = out['cls_token'][None]
    return out


def fit_pos_embed(state: Dict[str, torch.Tensor], encoder) -> None:
    """Resample the file's position embeddings to the encoder's patch grid
    (published at 518 px, built here at 224 px, for instance)."""
    from timm.layers import resample_abs_pos_embed
    pos = state.get('pos_embed')
    if pos is None or pos.shape == encoder.pos_embed.shape:
        return
    prefix = 0 if getattr(encoder, 'no_embed_class', False) else encoder.num_prefix_tokens
    state['pos_embed'] = resample_abs_pos_embed(
        pos, new_size=encoder.patch_embed.grid_size, num_prefix_tokens=prefix)


def load_encoder_weights(encoder, path: str, layout: str, published: str,
                         sha256: Optional[str] = None) -> int:
    """Load ``path`` into ``encoder`` (strictly: every key, every shape) and
    return the file's size; ``sha256`` checks the file first."""
    if not osp.isfile(path):
        raise MissingWeightsError(f'foundation weights {path} not found: download '
                                  f'them from {published} (nothing is downloaded at run time)')
    if sha256 and file_sha256(path) != sha256.lower():
        raise BadWeightsError(f'{path}: SHA-256 differs from the published {sha256}: '
                              'a different or damaged file')
    state = read_state_dict(path)
    if layout == 'hf_dinov2':
        state = hf_dinov2_to_timm(state)
    state = {k: v for k, v in state.items() if not k.startswith('head.')}
    fit_pos_embed(state, encoder)
    own = encoder.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or wrong:
        detail = '; '.join(f'{what}: {", ".join(keys[:3])}{" ..." if len(keys) > 3 else ""}'
                           for what, keys in (('missing', missing), ('unexpected', unexpected),
                                              ('other shape', wrong)) if keys)
        raise BadWeightsError(f'{path}: does not fit this architecture ({detail}); '
                              'is it the preset\'s file?')
    encoder.load_state_dict(state, strict=True)
    return os.path.getsize(path)
