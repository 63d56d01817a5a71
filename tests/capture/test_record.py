"""What a capture holds and how it is read: names, errors, laziness, memory, clone policy, clean exit."""
import threading

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules import module as nn_module

from tr_widgets.engine.capture import SDPA_NAME, Capture, TraceNameError, capture
from tr_widgets.engine.errors import TraceInputError

REAL_SDPA = F.scaled_dot_product_attention


class Attn(nn.Module):
    """nanoGPT-style self-attention through F.scaled_dot_product_attention, with an optional KV cache."""

    def __init__(self, E=16, H=2):
        super().__init__()
        self.H, self.qkv = H, nn.Linear(E, 3 * E)

    def forward(self, x, past=None):
        B, T, E = x.shape
        q, k, v = self.qkv(x).split(E, dim=2)  # 3 x (B, T, E), views of one (B, T, 3E) tensor
        q, k, v = (t.view(B, T, self.H, E // self.H).transpose(1, 2) for t in (q, k, v))  # (B, H, T, hd)
        if past is not None:
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)  # (B, H, P+T, hd)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=past is None)
        return y.transpose(1, 2).reshape(B, T, E), (k, v)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList([Attn(), Attn()])
        self.rnn = nn.GRU(16, 8, batch_first=True)

    def forward(self, x):
        for b in self.blocks:
            x = x + b(x)[0]
        return self.rnn(x)[0]


@pytest.fixture
def net_and_record():
    torch.manual_seed(0)
    net = Net().eval()
    x = torch.randn(2, 5, 16)
    with torch.no_grad(), capture(net) as rec:
        net(x)
    return net, x, rec


def test_names_in_call_order_and_lookup(net_and_record):
    _, _, rec = net_and_record
    assert rec.names == ["blocks.0", "blocks.1", "rnn"]
    assert len(rec) == 3 and [n for n, _ in rec] == rec.names and rec.traces[2][1] is rec["rnn"]
    assert rec["blocks.1"].name == "blocks.1" and rec["blocks.1"].batch_names == ("batch", "head")


def test_unknown_name_lists_the_names(net_and_record):
    _, _, rec = net_and_record
    with pytest.raises(TraceNameError) as err:
        rec["blocks.2"]
    assert isinstance(err.value, KeyError) and isinstance(err.value, TraceInputError)
    msg = str(err.value)
    assert "'blocks.2'" in msg and all(repr(n) in msg for n in rec.names) and "\n" not in msg


def test_repr_is_deterministic(net_and_record):
    net, x, rec = net_and_record
    with torch.no_grad(), capture(net) as again:
        net(x)
    assert repr(rec) == repr(again)
    assert repr(rec).splitlines()[0] == "Capture(3 traces)" and "rnn: RecurrentTrace(kind='gru'" in repr(rec)
    assert "0x" not in repr(rec)


def test_lazy_nothing_materialised_and_traces_exact(net_and_record):
    net, x, rec = net_and_record
    at = rec["blocks.0"]
    assert at.derived == {}  # no stage was derived while capturing
    r = at.row(4, (1, 0))
    assert at.derived == {}  # one query's row builds no T x T matrix
    torch.testing.assert_close(at.output, at.sdpa_output, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(r.weights, at.weights[1, 0, 4])


def test_memory_is_about_q_k_v_even_when_q_pins_a_fused_projection():
    """q is a view of the fused (B, T, 3E) projection; with a KV cache, k and v are new tensors. The record
    copies q out at exit instead of keeping the whole projection alive."""
    torch.manual_seed(1)
    attn = Attn(E=64, H=4)
    x, past = torch.randn(1, 32, 64), (torch.randn(1, 4, 8, 16), torch.randn(1, 4, 8, 16))
    with torch.no_grad(), capture(attn) as rec:
        attn(x, past)
    at = rec["Attn"]
    qkv = at.q.nbytes + at.k.nbytes + at.v.nbytes
    assert at.q.untyped_storage().nbytes() == at.q.nbytes  # compact copy, not the (1, 32, 192) projection
    assert rec.nbytes <= 1.25 * qkv


def test_written_kv_cache_is_copied_fresh_tensors_are_not():
    torch.manual_seed(2)
    B, H, S, hd = 1, 2, 6, 4
    cache_k, cache_v = torch.zeros(B, H, S, hd), torch.zeros(B, H, S, hd)
    q = torch.randn(B, H, 1, hd)
    fresh = torch.randn(B, H, S, hd)
    with capture() as rec:
        for t in range(2):  # a static cache written in place, then read whole
            cache_k[:, :, t] = torch.randn(B, H, hd)
            cache_v[:, :, t] = torch.randn(B, H, hd)
            F.scaled_dot_product_attention(q, cache_k, cache_v)
        F.scaled_dot_product_attention(q, fresh, fresh)
    first, second, third = (t for _, t in rec.traces)
    assert first.k.data_ptr() != cache_k.data_ptr()  # copied: the next write did not reach the first record
    assert first.k[:, :, 1].abs().sum() == 0 and second.k[:, :, 1].abs().sum() > 0
    assert third.k.data_ptr() == fresh.data_ptr()  # a fresh tensor is kept by reference


def test_in_place_change_after_recording_warns():
    q = torch.randn(1, 1, 3, 4)
    k = torch.randn(1, 1, 3, 4)
    with pytest.warns(UserWarning, match=r"q of 'scaled_dot_product_attention' changed in place"):
        with capture() as rec:
            F.scaled_dot_product_attention(q, k, k)
            q.mul_(2)
    assert len(rec) == 1


def test_sdpa_outside_modules_gqa_and_options():
    torch.manual_seed(3)
    q, k, v = torch.randn(2, 4, 5, 8), torch.randn(2, 2, 7, 8), torch.randn(2, 2, 7, 8)
    mask = torch.rand(5, 7) > 0.3
    mask[:, 0] = True
    with capture() as rec:
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=0.3, enable_gqa=True)
    (name, at), = rec.traces
    assert name == SDPA_NAME and at.scale == 0.3 and at.batch_shape == (2, 4)
    torch.testing.assert_close(at.output, out, atol=1e-6, rtol=1e-5)


def test_scope_names_and_modules_made_inside_the_block():
    torch.manual_seed(4)
    net = Net().eval()
    ns = {"net": net, "_": net}
    x = torch.randn(1, 3, 16)
    with torch.no_grad(), capture(scope=ns) as rec:
        net(x)
        extra = nn.LSTM(2, 3)  # created inside: named by its class
        extra(torch.randn(4, 1, 2))
        nn.LSTM(2, 3)(torch.randn(4, 1, 2))
    assert rec.names == ["net.blocks.0", "net.blocks.1", "net.rnn", "LSTM", "LSTM_2"]


def test_a_module_added_after_a_capture_is_recorded_by_the_next():
    net = Net().eval()
    x = torch.randn(1, 3, 16)
    with torch.no_grad(), capture(net) as first:
        net(x)
    net.post = nn.LSTM(8, 2, batch_first=True)  # the model changed: the next capture sees the new module
    with torch.no_grad(), capture(net) as second:
        net.post(net(x))
    assert first.names == ["blocks.0", "blocks.1", "rnn"] and second.names == first.names + ["post"]


def test_mha_slow_path_sdpa_is_not_recorded_twice():
    mha = nn.MultiheadAttention(8, 2)  # training mode: F.multi_head_attention_forward calls SDPA inside
    x = torch.randn(4, 1, 8)
    with capture() as rec:
        mha(x, x, x, need_weights=False)
    assert rec.names == ["MultiheadAttention"]


def test_exit_restores_everything_even_after_an_error():
    hooks = (dict(nn_module._global_forward_hooks), dict(nn_module._global_forward_pre_hooks))
    lstm = nn.LSTM(2, 3)
    with pytest.raises(RuntimeError):
        with capture(scope={"lstm": lstm}) as rec:
            lstm(torch.randn(4, 1, 5))  # wrong input size: the forward raises
    assert F.scaled_dot_product_attention is REAL_SDPA and torch._C._nn.scaled_dot_product_attention is REAL_SDPA
    assert (dict(nn_module._global_forward_hooks), dict(nn_module._global_forward_pre_hooks)) == hooks
    assert len(rec) == 0 and not lstm._forward_hooks
    with capture(lstm) as again:  # and capture works again
        lstm(torch.randn(4, 1, 2))
    assert again.names == ["LSTM"] and not lstm._forward_hooks and not lstm._forward_pre_hooks


def test_a_capture_is_used_once_and_needs_a_module():
    rec = capture()
    with rec:
        pass
    with pytest.raises(TraceInputError, match="already used"):
        with rec:
            pass
    with pytest.raises(TraceInputError, match="model: expected an nn.Module"):
        capture("gpt2")
    with pytest.raises(TraceInputError, match="via"):
        capture(via="eager")
    assert isinstance(rec, Capture)


def test_other_threads_are_not_recorded():
    q = torch.randn(1, 1, 3, 4)
    with capture() as rec:
        t = threading.Thread(target=F.scaled_dot_product_attention, args=(q, q, q))
        t.start()
        t.join()
        F.scaled_dot_product_attention(q, q, q)
    assert len(rec) == 1


def test_mode_sees_calls_through_any_reference_and_keeps_fast_paths():
    sdpa = REAL_SDPA  # a reference taken before the capture: the wrapper cannot see calls through it
    q = torch.randn(1, 2, 3, 4)
    with capture() as patched:
        sdpa(q, q, q)
    with capture(via="mode") as mode:
        sdpa(q, q, q)
    assert len(patched) == 0 and len(mode) == 1
    torch.manual_seed(5)
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True).eval()
    x = torch.randn(2, 4, 8)
    calls, orig = [], torch._transformer_encoder_layer_fwd
    torch._transformer_encoder_layer_fwd = lambda *a: calls.append(1) or orig(*a)
    try:
        with torch.no_grad():
            plain = layer(x)
            with capture(layer, via="mode") as rec:
                out = layer(x)
    finally:
        torch._transformer_encoder_layer_fwd = orig
    assert torch.equal(out, plain) and len(calls) == 2 and rec.names == ["self_attn"]


@pytest.mark.parametrize("kind", ["mha", "sdpa"])
def test_attention_with_dropout_in_training_mode_says_it_is_not_replayed(kind):
    """Training-mode dropout changes the weights on every forward: the trace shows them without it, and says so."""
    torch.manual_seed(0)
    x = torch.randn(1, 4, 8)
    if kind == "mha":
        model = nn.MultiheadAttention(8, 2, dropout=0.25, batch_first=True).train()
        run = lambda: model(x, x, x)  # noqa: E731
    else:
        model = nn.Identity()
        run = lambda: F.scaled_dot_product_attention(x, x, x, dropout_p=0.25)  # noqa: E731
    with capture(model) as rec:
        run()
    (name, at), = rec.traces
    assert any("dropout (p=0.25) is not replayed" in n for n in at.notes), at.notes
    model.eval() if kind == "mha" else None
    with capture(model) as quiet:
        model(x, x, x) if kind == "mha" else F.scaled_dot_product_attention(x, x, x)
    assert quiet.traces[0][1].notes == ()
