"""References to SDPA kept where the alias scan never looked, nested captures with mixed ``via``,
torch.compile'd models, and torch's global hook tables left exactly as found."""
import sys
import types

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules import module as nn_module

from tests.capture.teaching import MinGPT
from tr_widgets.engine.capture import CaptureWarning, capture

REAL_SDPA = F.scaled_dot_product_attention

REAL = F.scaled_dot_product_attention
CLOSED = REAL


class KeptOnInstance(nn.Module):  # no "Attention" in the class name: the cheap path must find the reference
    def __init__(self):
        super().__init__()
        self.qkv, self.attn_fn = nn.Linear(16, 48), F.scaled_dot_product_attention

    def forward(self, x):
        q, k, v = self.qkv(x).view(1, -1, 3, 2, 8).permute(2, 0, 3, 1, 4)  # 3 x (1, 2, T, 8)
        return self.attn_fn(q, k, v, is_causal=True)


class KeptOnClass(KeptOnInstance):
    fn = F.scaled_dot_product_attention

    def forward(self, x):
        q, k, v = self.qkv(x).view(1, -1, 3, 2, 8).permute(2, 0, 3, 1, 4)
        return self.fn(q, k, v)


def make_closure():
    sdpa = F.scaled_dot_product_attention

    class InClosure(KeptOnInstance):
        def forward(self, x):
            q, k, v = self.qkv(x).view(1, -1, 3, 2, 8).permute(2, 0, 3, 1, 4)
            return sdpa(q, k, v)
    return InClosure()


@pytest.mark.parametrize("make", [KeptOnInstance, KeptOnClass, make_closure])
def test_references_kept_on_attributes_and_closures_are_found(make):
    torch.manual_seed(0)
    m, x = make().eval(), torch.randn(1, 5, 16)
    with torch.no_grad():
        plain = m(x)
        with capture(m) as rec:
            out = m(x)
    assert torch.equal(out, plain) and rec.names == [type(m).__name__]
    torch.testing.assert_close(rec.traces[0][1].output, out, atol=1e-6, rtol=1e-5)
    assert m.__dict__.get("attn_fn", REAL) is REAL and KeptOnClass.fn is REAL  # restored


def test_a_name_imported_into_a_namespace_after_a_first_capture_is_seen():
    ns = types.ModuleType("late_cell")  # a notebook's __main__: scanned once, imported into later
    sys.modules["late_cell"] = ns
    exec("import torch\nclass Block(torch.nn.Module):\n    def forward(self, q):\n        return sdpa(q, q, q)\n",
         ns.__dict__)
    try:
        m, q = ns.Block(), torch.randn(1, 2, 4, 8)
        with pytest.warns(UserWarning, match="nothing was recorded"), capture(m):
            pass
        ns.sdpa = REAL  # `from torch.nn.functional import scaled_dot_product_attention as sdpa`, later
        with torch.no_grad(), capture(m) as rec:
            m(q)
        assert rec.names == ["Block"] and ns.sdpa is REAL
    finally:
        del sys.modules["late_cell"]


def _sdpa_net():
    class Attn(nn.Module):
        def forward(self, x):
            return F.scaled_dot_product_attention(x, x, x)
    return nn.Sequential(Attn(), Attn())


@pytest.mark.parametrize("outer_via, inner_via", [("mode", "patch"), ("patch", "mode"), ("mode", "mode")])
def test_nested_captures_each_record_every_call_once(outer_via, inner_via):
    net, x = _sdpa_net(), torch.randn(1, 2, 4, 8)
    with torch.no_grad(), capture(net, via=outer_via) as outer:
        with capture(net, via=inner_via) as inner:
            net(x)
    assert outer.names == inner.names == ["0", "1"]


def test_hand_written_attention_inside_nested_captures():
    torch.manual_seed(0)
    m, idx = MinGPT().eval(), torch.randint(0, 50, (1, 6))
    with torch.no_grad(), capture(m) as outer, capture(m, via="mode") as inner:
        m(idx)
    assert outer.names == inner.names == ["h.0.attn", "h.1.attn"]


def _tables():
    return {n: dict(getattr(nn_module, n)) for n in ("_global_forward_pre_hooks", "_global_forward_hooks",
                                                     "_global_forward_hooks_always_called",
                                                     "_global_forward_hooks_with_kwargs")}


def test_global_hooks_leave_torch_exactly_as_found():
    before = _tables()
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(16, 2, 32, batch_first=True), 1,
                                enable_nested_tensor=False).eval()
    with torch.no_grad(), capture(enc):
        enc(torch.randn(1, 4, 16))
    with torch.no_grad(), capture(_sdpa_net(), via="mode"):
        _sdpa_net()(torch.randn(1, 2, 4, 8))
    assert _tables() == before


@pytest.mark.parametrize("model", ["mingpt", "sdpa"])
def test_compiled_models_run_unchanged_and_are_recorded(model):
    torch.manual_seed(0)
    if model == "mingpt":
        m, x, names = MinGPT().eval(), torch.randint(0, 50, (1, 6)), ["h.0.attn", "h.1.attn"]
    else:
        m, x, names = _sdpa_net(), torch.randn(1, 2, 4, 8), ["0", "1"]
    cm = torch.compile(m, backend="eager")
    with torch.no_grad():
        plain = cm(x)
        with capture(cm) as rec:
            out = cm(x)
        again = cm(x)  # compiled again afterwards, and still the same
    assert torch.equal(out, plain) and torch.equal(again, plain)
    assert rec.names == ["_orig_mod." + n for n in names]


def test_a_model_compiled_with_another_backend_is_left_alone_with_a_warning():
    """Recording would run compiled code eagerly, and a real backend's numbers can differ from eager in the last
    bits: the capture touches nothing (same outputs, bit for bit), records nothing, and says so, naming the fix."""
    torch.manual_seed(0)
    m, x = _sdpa_net(), torch.randn(1, 2, 4, 8)
    cm = torch.compile(m, backend="aot_eager")
    before = _tables()
    with torch.no_grad():
        plain = cm(x)
        with pytest.warns(CaptureWarning, match=r"backend 'aot_eager'.*compiled.*_orig_mod.*backend='eager'"):
            with capture(cm) as rec:
                out = cm(x)
    assert torch.equal(out, plain) and len(rec) == 0 and _tables() == before
    assert rec.skipped and "compiled with backend 'aot_eager'" in rec.skipped[0][1]
    assert torch.nn.functional.scaled_dot_product_attention is REAL_SDPA
