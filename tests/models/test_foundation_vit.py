"""FoundationViT: tiny random encoders of each preset's structure, built through
the same code path as the real ones; published key layouts, refusals, tuning."""
import pytest
import torch

from crossspec_mmseg.errors import BadWeightsError, MissingWeightsError
from crossspec_mmseg.models.backbones import PRESETS, FoundationViT
from crossspec_mmseg.models.backbones.adapters import merge_adapters
from crossspec_mmseg.models.backbones.foundation_vit import decode_reference

#: Each preset's structure in small: 2-3 blocks, width 48 (even SwiGLU hidden sizes).
TINY = dict(depth=3, embed_dim=48, num_heads=2)


def tiny(preset='uni', **kwargs):
    kwargs.setdefault('out_indices', (0, 1, 2))
    return FoundationViT(preset=preset, arch=dict(TINY, **kwargs.pop('arch', {})), **kwargs)


def save_encoder(model, path):
    state = model.encoder.state_dict()
    if str(path).endswith('.safetensors'):
        from safetensors.torch import save_file
        save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    else:
        torch.save(state, str(path))
    return str(path)


@pytest.mark.parametrize('preset', sorted(PRESETS))
def test_each_preset_gives_maps_at_its_patch_stride_for_any_size(preset):
    torch.manual_seed(0)
    model = tiny(preset).eval()
    patch = model.patch_size
    feats = model(torch.rand(2, 3, 61, 90))  # not a multiple of the patch
    assert len(feats) == 3
    for f in feats:
        assert f.shape == (2, 48, -(-61 // patch), -(-90 // patch))
    expected_tokens = {'uni2': 8, 'virchow2': 4, 'hoptimus0': 4, 'hoptimus1': 4}.get(preset, 0)
    assert model.encoder.num_reg_tokens == expected_tokens


@pytest.mark.parametrize('suffix', ['.pth', '.safetensors'])
def test_timm_layout_file_loads_and_gives_identical_outputs(tmp_path, suffix):
    torch.manual_seed(1)
    source = tiny('virchow2').eval()
    path = save_encoder(source, tmp_path / f'pytorch_model{suffix}')
    torch.manual_seed(2)  # another random start: the file must overwrite all of it
    loaded = tiny('virchow2', weights=path).eval()
    x = torch.rand(1, 3, 56, 56)
    for a, b in zip(source(x), loaded(x)):
        assert torch.equal(a, b)


def test_init_weights_keeps_the_files_weights(tmp_path):
    """mmengine's runner calls init_weights() before training: it must not run
    timm's initialisation over the published weights."""
    torch.manual_seed(1)
    source = tiny('uni', stem_channels=8)
    path = save_encoder(source, tmp_path / 'uni.pth')
    model = tiny('uni', weights=path, stem_channels=8)
    model.init_weights()
    for key, value in source.encoder.state_dict().items():
        assert torch.equal(model.encoder.state_dict()[key], value), key


def test_wrapped_and_prefixed_state_dict_loads(tmp_path):
    torch.manual_seed(1)
    source = tiny('uni').eval()
    wrapped = {'model': {f'module.{k}': v for k, v in source.encoder.state_dict().items()}}
    torch.save(wrapped, tmp_path / 'w.pth')
    loaded = tiny('uni', weights=str(tmp_path / 'w.pth')).eval()
    x = torch.rand(1, 3, 32, 32)
    assert torch.equal(source(x)[-1], loaded(x)[-1])


#: Phikon-v2's file (2024) names the attention as transformers 4 did.
PUBLISHED_NAMES = {'.attention.q_proj.': '.attention.attention.query.',
                   '.attention.k_proj.': '.attention.attention.key.',
                   '.attention.v_proj.': '.attention.attention.value.',
                   '.attention.o_proj.': '.attention.output.dense.'}


def published_names(key):
    for new, old in PUBLISHED_NAMES.items():
        key = key.replace(new, old)
    return key


@pytest.mark.parametrize('names', ['published', 'transformers'])
def test_hf_dinov2_layout_matches_transformers_own_model(tmp_path, names):
    """Phikon-v2's layout: a random HF ``Dinov2Model`` saved as published (and
    as the installed transformers saves it); our key map must reproduce its
    hidden states."""
    transformers = pytest.importorskip('transformers')
    from safetensors.torch import save_file
    torch.manual_seed(3)
    config = transformers.Dinov2Config(hidden_size=48, num_hidden_layers=3, num_attention_heads=2,
                                       intermediate_size=192, patch_size=16, image_size=64,
                                       layerscale_value=1e-5)
    hf = transformers.Dinov2Model(config).eval()
    with torch.no_grad():
        for name, p in hf.named_parameters():
            if 'lambda1' in name or 'cls_token' in name or 'position' in name:
                p.copy_(torch.randn_like(p) * 0.5)  # not the init's constants
    rename = published_names if names == 'published' else str
    state = {rename(k): v.contiguous() for k, v in hf.state_dict().items()}
    assert any('q_proj' in k or 'attention.query' in k for k in state)
    save_file(state, str(tmp_path / 'model.safetensors'))
    ours = tiny('phikon2', weights=str(tmp_path / 'model.safetensors'),
                arch=dict(img_size=64)).eval()
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        hidden = hf(pixel_values=x, output_hidden_states=True).hidden_states
        feats = ours(x)
    for block, f in zip((0, 1, 2), feats):
        tokens = hidden[block + 1][:, 1:]  # after block `block`, without the class token
        expected = tokens.reshape(2, 4, 4, 48).permute(0, 3, 1, 2)
        torch.testing.assert_close(f, expected, atol=1e-5, rtol=1e-4)


def test_position_embeddings_resampled_to_the_built_grid(tmp_path):
    torch.manual_seed(1)
    source = tiny('hoptimus0', arch=dict(img_size=98))  # published at another size
    path = save_encoder(source, tmp_path / 'h.pth')
    loaded = tiny('hoptimus0', weights=path)
    assert loaded.encoder.pos_embed.shape[1] == (224 // 14) ** 2
    assert loaded(torch.rand(1, 3, 28, 28))[0].shape == (1, 48, 2, 2)


def test_missing_file_names_the_path_and_where_weights_are_published(tmp_path):
    path = str(tmp_path / 'UNI' / 'pytorch_model.bin')
    with pytest.raises(MissingWeightsError) as err:
        tiny('uni', weights=path)
    message = str(err.value)
    assert path in message and 'huggingface.co/MahmoodLab/UNI' in message
    assert 'gated' in message and '\n' not in message


def test_truncated_foreign_or_wrong_checksum_files_are_refused(tmp_path):
    torch.manual_seed(1)
    path = save_encoder(tiny('uni'), tmp_path / 'ok.pth')
    data = open(path, 'rb').read()
    truncated = tmp_path / 'truncated.pth'
    truncated.write_bytes(data[:len(data) // 2])
    with pytest.raises(BadWeightsError, match='truncated.pth: not a readable weights file'):
        tiny('uni', weights=str(truncated))
    other = save_encoder(tiny('uni', arch=dict(depth=2), out_indices=(0, 1)),
                         tmp_path / 'other.pth')
    with pytest.raises(BadWeightsError, match=r'does not fit .*missing: blocks\.2\.'):
        tiny('uni', weights=other)
    with pytest.raises(BadWeightsError, match='SHA-256 differs'):
        tiny('uni', weights=path, sha256='0' * 64)
    import hashlib
    tiny('uni', weights=path, sha256=hashlib.sha256(data).hexdigest())  # the right one loads


def test_swiglu_needs_an_even_hidden_size():
    with pytest.raises(ValueError, match='even hidden size'):
        tiny('virchow2', arch=dict(embed_dim=49, num_heads=7))  # 49 x 5.3375 -> 261


def test_frozen_encoder_runs_without_autograd_and_checkpoints_leave_it_out(tmp_path):
    torch.manual_seed(1)
    path = save_encoder(tiny('uni'), tmp_path / 'uni.pth')
    model = tiny('uni', weights=path, stem_channels=16)
    model.train()
    assert not model.encoder.training  # frozen: no drop-path
    feats = model(torch.rand(1, 3, 32, 32))
    assert feats[0].shape == (1, 16, 8, 8)  # the stem's stride-4 map comes first
    assert not feats[1].requires_grad and feats[0].requires_grad
    state = model.state_dict()
    assert not any(k.startswith('encoder.') for k in state)
    assert any(k.startswith('stem.') for k in state)
    assert decode_reference(state['_extra_state'])['weights'] == path
    # loads back with no missing-key noise; a random encoder is saved whole
    fresh = tiny('uni', weights=path, stem_channels=16)
    result = fresh.load_state_dict(state, strict=False)
    assert result.missing_keys == []
    random_model = tiny('uni')
    assert any(k.startswith('encoder.blocks.') for k in random_model.state_dict())


def test_checkpoint_needs_the_same_weights_file(tmp_path):
    torch.manual_seed(1)
    path = save_encoder(tiny('uni'), tmp_path / 'uni.pth')
    state = tiny('uni', weights=path).state_dict()
    with pytest.raises(BadWeightsError, match='set model.backbone.weights to that file'):
        tiny('uni').load_state_dict(state, strict=False)
    other = save_encoder(tiny('uni'), tmp_path / 'other.safetensors')
    with pytest.raises(BadWeightsError, match='trained on top of'):
        tiny('uni', weights=other).load_state_dict(state, strict=False)


@pytest.mark.parametrize('tuning', ['lora', 'dora'])
def test_adapters_train_alone_and_merge_to_the_same_outputs(tmp_path, tuning):
    pytest.importorskip('peft')
    torch.manual_seed(1)
    path = save_encoder(tiny('uni'), tmp_path / 'uni.pth')
    model = tiny('uni', weights=path, tuning=tuning, lora=dict(r=4, alpha=8))
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    # r=4 A and B matrices on qkv and proj of 3 blocks (+ DoRA's magnitude vectors)
    assert len(trainable) == 3 * 2 * (3 if tuning == 'dora' else 2)
    assert all('lora_' in n for n in trainable)
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.5)
    x = torch.rand(2, 3, 32, 32)
    for _ in range(3):
        optimizer.zero_grad()
        sum(f.square().mean() for f in model(x)).backward()
        optimizer.step()
    for name, p in model.named_parameters():
        if name in frozen:
            assert torch.equal(p, frozen[name]), name
    assert any(not torch.all(p == 0) for n, p in model.named_parameters() if 'lora_B' in n)
    state = model.state_dict()  # adapters, no frozen base weights
    assert state and all('lora_' in k for k in state if k != '_extra_state')
    for param in model.parameters():  # a finetune stage freezes the adapters too:
        param.requires_grad = False  # they are still saved (they are not in the file)
    assert set(model.state_dict()) == set(state)
    model.eval()
    with torch.no_grad():
        before = model(x)
        assert merge_adapters(model) == 6
        after = model(x)
    for a, b in zip(before, after):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def test_full_tuning_trains_everything_and_saves_it(tmp_path):
    torch.manual_seed(1)
    path = save_encoder(tiny('uni'), tmp_path / 'uni.pth')
    model = tiny('uni', weights=path, tuning='full', with_cp=True)
    assert all(p.requires_grad for p in model.parameters())
    assert model.encoder.grad_checkpointing
    out = model(torch.rand(1, 3, 32, 32))
    out[-1].mean().backward()
    assert model.encoder.blocks[0].attn.qkv.weight.grad is not None
    assert any(k.startswith('encoder.blocks.0.') for k in model.state_dict())


def test_unknown_preset_and_tuning_are_named():
    with pytest.raises(ValueError, match='presets: gigapath, hoptimus0'):
        FoundationViT(preset='uni3')
    with pytest.raises(ValueError, match="tuning 'lorra'"):
        tiny('uni', tuning='lorra')
