"""nn.MultiheadAttention under capture: per-head traces whose weights are the module's own need_weights
weights (average_attn_weights=False), and outputs that capture does not change."""
import pytest
import torch
from torch import nn

from tr_widgets.engine.capture import capture

L, S, B, E = 5, 7, 3, 8


def _inputs(cfg, gen):
    kdim, vdim = cfg.get("kdim", E), cfg.get("vdim", E)
    q = torch.randn(L, B, E, generator=gen)
    k = torch.randn(S, B, kdim, generator=gen) if not cfg.get("self") else q
    v = torch.randn(S, B, vdim, generator=gen) if not cfg.get("self") else q
    if cfg.get("batch_first"):
        q, k, v = (t.transpose(0, 1) for t in (q, k, v))
        if cfg.get("self"):
            k = v = q
    if cfg.get("unbatched"):
        q, k, v = (t[:, 0] if not cfg.get("batch_first") else t[0] for t in (q, k, v))
    return q, k, v


def _masks(cfg, gen):
    Sx = L if cfg.get("self") else S
    kw = {}
    if cfg.get("kpm"):
        kpm = torch.zeros(B, Sx, dtype=torch.bool)
        kpm[1, -2:] = True
        kpm[2, 2] = True  # key 0 stays: no query loses every key
        kw["key_padding_mask"] = kpm if cfg["kpm"] == "bool" else torch.zeros(B, Sx).masked_fill(kpm, float("-inf"))
    if cfg.get("attn_mask") == "bool2d":
        kw["attn_mask"] = torch.ones(L, Sx, dtype=torch.bool).triu(1)  # MHA: True = not allowed
    elif cfg.get("attn_mask") == "float2d":
        kw["attn_mask"] = torch.randn(L, Sx, generator=gen)
    elif cfg.get("attn_mask") == "bool3d":
        m = torch.rand(B * cfg["heads"], L, Sx, generator=gen) < 0.3
        m[..., 0] = False  # no fully masked row (need_weights would give NaN there, SDPA zeros)
        kw["attn_mask"] = m
    if cfg.get("unbatched"):
        kw.pop("key_padding_mask", None)
    return kw


CONFIGS = [
    dict(heads=2),
    dict(heads=2, batch_first=True),
    dict(heads=4, kpm="bool"),
    dict(heads=2, kpm="float", attn_mask="float2d"),
    dict(heads=2, attn_mask="bool2d", kpm="bool", self=True),
    dict(heads=2, attn_mask="bool3d", batch_first=True),
    dict(heads=2, kdim=5, vdim=3),
    dict(heads=2, kdim=5, vdim=3, batch_first=True, kpm="bool"),
    dict(heads=2, bias=False),
    dict(heads=2, add_bias_kv=True, kpm="bool", attn_mask="bool2d"),
    dict(heads=2, add_zero_attn=True, kpm="bool"),
    dict(heads=2, unbatched=True, attn_mask="bool2d", self=True),
]


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_weights_equal_need_weights_per_head(cfg):
    gen = torch.Generator().manual_seed(len(str(cfg)))
    torch.manual_seed(len(str(cfg)))
    mha = nn.MultiheadAttention(E, cfg["heads"], batch_first=cfg.get("batch_first", False),
                                kdim=cfg.get("kdim"), vdim=cfg.get("vdim"), bias=cfg.get("bias", True),
                                add_bias_kv=cfg.get("add_bias_kv", False),
                                add_zero_attn=cfg.get("add_zero_attn", False))
    q, k, v = _inputs(cfg, gen)
    kw = _masks(cfg, gen)
    out_plain, w_plain = mha(q, k, v, average_attn_weights=False, **kw)
    with capture(mha) as rec:
        out, w = mha(q, k, v, average_attn_weights=False, **kw)
    assert torch.equal(out, out_plain) and torch.equal(w, w_plain)
    (name, at), = rec.traces
    assert name == "MultiheadAttention" and at.batch_names == ("batch", "head")
    want = w.unsqueeze(0) if cfg.get("unbatched") else w  # [B, heads, L, S(+1)]
    assert at.batch_shape == tuple(want.shape[:2]) and at.E == E // cfg["heads"]
    torch.testing.assert_close(at.weights, want, atol=1e-6, rtol=1e-5)
    # each head's output, projected like MHA does, is the module's output
    heads = at.output  # [B, H, L, hd]
    merged = heads.permute(2, 0, 1, 3).reshape(L, heads.shape[0], E)  # [L, B, E]
    proj = nn.functional.linear(merged, mha.out_proj.weight, mha.out_proj.bias)
    want_out = out.unsqueeze(1) if cfg.get("unbatched") else (out.transpose(0, 1) if mha.batch_first else out)
    torch.testing.assert_close(proj, want_out, atol=1e-5, rtol=1e-5)


def test_row_matches_the_module_weights_without_materialising():
    torch.manual_seed(0)
    mha = nn.MultiheadAttention(E, 2, batch_first=True)
    x = torch.randn(B, L, E)
    with capture(mha) as rec:
        _, w = mha(x, x, x, average_attn_weights=False)
    at = rec["MultiheadAttention"]
    r = at.row(3, (2, 1))
    torch.testing.assert_close(r.weights, w[2, 1, 3], atol=1e-6, rtol=1e-5)
    assert "weights" not in at.derived and "scores" not in at.derived  # a row builds no L x S matrix


@pytest.mark.parametrize("grad", [False, True])
def test_fast_path_outputs_unchanged(grad):
    """eval + no_grad + batch_first self-attention takes torch._native_multi_head_attention; capture keeps it."""
    torch.manual_seed(1)
    mha = nn.MultiheadAttention(E, 2, batch_first=True).eval()
    x = torch.randn(B, L, E)
    kpm = torch.zeros(B, L, dtype=torch.bool)
    kpm[0, -1] = True
    calls = []
    orig = torch._native_multi_head_attention

    def counting(*a, **k):
        calls.append(1)
        return orig(*a, **k)
    with torch.set_grad_enabled(grad):
        plain = mha(x, x, x, key_padding_mask=kpm, need_weights=False)[0]
        torch._native_multi_head_attention = counting
        try:
            with capture(mha) as rec:
                out = mha(x, x, x, key_padding_mask=kpm, need_weights=False)[0]
        finally:
            torch._native_multi_head_attention = orig
    assert torch.equal(out, plain)
    assert len(calls) == (0 if grad else 1)  # the fast path ran under capture exactly when it runs without
    w = mha(x, x, x, key_padding_mask=kpm, average_attn_weights=False)[1]
    torch.testing.assert_close(rec["MultiheadAttention"].weights, w, atol=1e-6, rtol=1e-5)


def test_weights_snapshot_survives_training():
    torch.manual_seed(2)
    mha = nn.MultiheadAttention(E, 2)
    x = torch.randn(L, B, E)
    with capture(mha) as rec:
        w = mha(x, x, x, average_attn_weights=False)[1]
    with torch.no_grad():
        mha.in_proj_weight.add_(1.0)  # a training step after the capture
    torch.testing.assert_close(rec["MultiheadAttention"].weights, w.detach(), atol=1e-6, rtol=1e-5)
