"""torch's transformer modules under capture: the fused encoder-layer kernel keeps running (outputs bitwise
unchanged) and its attention is still recorded, per head, equal to the layer's own self_attn weights."""
import contextlib
import warnings

import pytest
import torch
from torch import nn

from tr_widgets.engine.capture import capture

E, H, B, T = 16, 4, 3, 6


@contextlib.contextmanager
def count_fused_layers():
    calls, orig = [], torch._transformer_encoder_layer_fwd

    def counting(*a, **k):
        calls.append(1)
        return orig(*a, **k)
    torch._transformer_encoder_layer_fwd = counting
    try:
        yield calls
    finally:
        torch._transformer_encoder_layer_fwd = orig


def _encoder(norm_first=False, layers=2):
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(E, H, 32, dropout=0.0, batch_first=True, norm_first=norm_first)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "use_nested_tensor is False because norm_first was True"
        return nn.TransformerEncoder(layer, layers, enable_nested_tensor=True).eval()


def _self_attn_weights(layer, x, **masks):
    xin = layer.norm1(x) if layer.norm_first else x
    return layer.self_attn(xin, xin, xin, average_attn_weights=False, **masks)[1]


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("padding", [False, True])
def test_encoder_fast_path_outputs_unchanged_and_recorded(norm_first, padding):
    enc = _encoder(norm_first)
    x = torch.randn(B, T, E)
    kpm = None
    if padding:  # padding at the end: TransformerEncoder runs its layers on a nested tensor
        kpm = torch.zeros(B, T, dtype=torch.bool)
        kpm[1, -2:] = True
        kpm[2, -1] = True
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's "nested tensors are a prototype" warning
        plain = enc(x, src_key_padding_mask=kpm)
        with count_fused_layers() as calls, capture(enc) as rec:
            out = enc(x, src_key_padding_mask=kpm)
    assert len(calls) == 2  # both layers ran torch._transformer_encoder_layer_fwd under capture
    assert torch.equal(out, plain)
    assert rec.names == ["layers.0.self_attn", "layers.1.self_attn"]
    # layer 0's weights against its own self_attn (for queries that are not padding)
    at = rec["layers.0.self_attn"]
    with torch.no_grad():
        w = _self_attn_weights(enc.layers[0], x, key_padding_mask=kpm)
    assert at.batch_shape == (B, H) and (at.L, at.S) == (T, T)
    real = torch.ones(B, T, dtype=torch.bool) if kpm is None else ~kpm
    torch.testing.assert_close(at.weights[real[:, None].expand(B, H, T)], w[real[:, None].expand(B, H, T)],
                               atol=1e-5, rtol=1e-5)
    if padding:  # padded keys are blocked for every query
        assert at.blocked[1, :, :, -2:].all() and not at.blocked[0].any()


def test_encoder_with_causal_mask_slow_path_recorded():
    enc = _encoder()
    x = torch.randn(B, T, E)
    mask = nn.Transformer.generate_square_subsequent_mask(T)
    with torch.no_grad():
        plain = enc(x, mask=mask, is_causal=True)
        with capture(enc) as rec:
            out = enc(x, mask=mask, is_causal=True)
    assert torch.equal(out, plain)
    at = rec["layers.0.self_attn"]
    assert at.blocked[0, 0].equal(torch.ones(T, T, dtype=torch.bool).triu(1))
    with torch.no_grad():
        w = _self_attn_weights(enc.layers[0], x, attn_mask=mask)
    torch.testing.assert_close(at.weights, w, atol=1e-5, rtol=1e-5)


def test_encoder_layer_alone_in_training_mode_with_grad():
    torch.manual_seed(3)
    layer = nn.TransformerEncoderLayer(E, H, 32, dropout=0.0, batch_first=False)
    x = torch.randn(T, B, E)
    plain = layer(x)
    with capture(layer) as rec:
        out = layer(x)
    assert torch.equal(out, plain) and out.requires_grad
    assert rec.names == ["self_attn"]
    assert not rec["self_attn"].q.requires_grad  # the trace keeps no autograd graph


def test_transformer_encoder_decoder_names_every_attention():
    torch.manual_seed(4)
    model = nn.Transformer(d_model=E, nhead=H, num_encoder_layers=1, num_decoder_layers=2, dim_feedforward=32,
                           dropout=0.0, batch_first=True).eval()
    src, tgt = torch.randn(B, T, E), torch.randn(B, 4, E)
    tgt_mask = nn.Transformer.generate_square_subsequent_mask(4)
    with torch.no_grad():
        plain = model(src, tgt, tgt_mask=tgt_mask)
        with capture(model) as rec:
            out = model(src, tgt, tgt_mask=tgt_mask)
    assert torch.equal(out, plain)
    assert rec.names == ["encoder.layers.0.self_attn", "decoder.layers.0.self_attn",
                         "decoder.layers.0.multihead_attn", "decoder.layers.1.self_attn",
                         "decoder.layers.1.multihead_attn"]
    cross = rec["decoder.layers.0.multihead_attn"]
    assert (cross.L, cross.S) == (4, T)
    assert rec["decoder.layers.1.self_attn"].blocked[0, 0].equal(torch.ones(4, 4, dtype=torch.bool).triu(1))
