"""Hand-written attention recorded wherever it runs (issue 22): with the default ``via="patch"``, softmax(q·kᵀ)·v
inside a plain ``Block``/``Head`` is recorded, equal to the module's own weights and output, with no trace and no
warning for a classifier's [B, T, V] softmax; attention-shaped weights that never meet their value tensor directly
are named with a fix that works (``via="mode"``); torch's functions are put back."""
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tr_widgets.engine.capture import capture
from tr_widgets.engine.capture.record import CaptureWarning
from tr_widgets.engine.capture.hand_anywhere import ORIGINALS, UNFOLLOWED

SPELLINGS = {
    "F.softmax": lambda s: F.softmax(s, -1),
    "torch.softmax": lambda s: torch.softmax(s, dim=-1),
    "Tensor.softmax": lambda s: s.softmax(-1),
}


class Head(nn.Module):
    """One head written inline (Karpathy's "Let's build GPT" style), in a class not named Attention."""

    def __init__(self, d=16, spelling="F.softmax"):
        super().__init__()
        self.q, self.k, self.v = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)
        self.spelling, self.wei = spelling, None

    def forward(self, x):
        q, k, v = self.q(x), self.k(x), self.v(x)  # (B, T, d)
        wei = SPELLINGS[self.spelling]((q @ k.transpose(-2, -1)) * k.size(-1) ** -0.5)  # (B, T, T)
        self.wei = wei
        return wei @ v  # (B, T, d)


class Block(nn.Module):
    def __init__(self, spelling="F.softmax", raise_at_end=False):
        super().__init__()
        self.head, self.lstm, self.raise_at_end = Head(spelling=spelling), nn.LSTM(16, 16, batch_first=True), raise_at_end

    def forward(self, x):
        out = self.head(x) + self.lstm(x)[0]
        if self.raise_at_end:
            raise ValueError("boom")
        return out


class SelfAttention(Head):
    """The same math in an attention-named class: HandMode follows it, the net stays quiet."""


class Router(nn.Module):
    def __init__(self):
        super().__init__()
        self.gate, self.mha = nn.Linear(16, 4), nn.MultiheadAttention(16, 2, batch_first=True)

    def forward(self, x):
        probs = F.softmax(self.gate(x.flatten(0, 1)), -1)  # (B·T, 4): a router's softmax is 2-D
        attn, w = self.mha(x, x, x, need_weights=True)  # its own softmax, recorded by type
        return attn * probs[:, :1].view(x.shape[0], x.shape[1], 1), w


class Classifier(nn.Module):
    """A language model's head: softmax over [B, T, V] logits, then a product of the probabilities."""

    def __init__(self, d=16, vocab=11):
        super().__init__()
        self.out, self.emb = nn.Linear(d, vocab), nn.Embedding(vocab, d)

    def forward(self, x):
        probs = F.softmax(self.out(x), dim=-1)  # (B, T, V): not attention
        return probs, self.emb.weight.t() @ probs.transpose(1, 2)  # probs is not the product's first operand


class CastHead(Head):
    """Attention weights cast before the value product: a step the net does not follow (via='mode' does)."""

    def forward(self, x):
        q, k, v = self.q(x), self.k(x), self.v(x)
        self.wei = F.softmax(q @ k.transpose(-2, -1), -1)  # (B, T, T)
        return self.wei.double() @ v.double()


class Switch(nn.Module):
    """An attention module that calls SDPA, and on a later call computes the same attention by hand."""

    def __init__(self, d=16):
        super().__init__()
        self.qkv, self.hand, self.wei = nn.Linear(d, 3 * d), False, None

    def forward(self, x):
        q, k, v = self.qkv(x).chunk(3, -1)  # 3 x (B, T, d)
        if not self.hand:
            return F.scaled_dot_product_attention(q, k, v)
        self.wei = (q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5).softmax(-1)  # (B, T, T)
        return self.wei @ v


SwitchAttention = type("SwitchAttention", (Switch,), {})  # its class name says Attention: a mixer


def _run(model, x, via="patch"):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with capture(model, via=via) as rec:
            out = model(x)
    return rec, out, [w for w in caught if issubclass(w.category, CaptureWarning)]


def _products():
    return (torch.Tensor.__matmul__, torch.Tensor.matmul, torch.matmul, torch.Tensor.bmm, torch.bmm, torch.einsum)


@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
def test_inline_attention_outside_attention_modules_is_recorded(spelling):
    torch.manual_seed(0)
    model, x = Block(spelling).eval(), torch.randn(2, 8, 16)
    with torch.no_grad():
        ref = model(x)
        rec, out, caught = _run(model, x)
    assert torch.equal(out, ref)  # bitwise unchanged
    assert caught == [] and rec.skipped == [] and rec.names == ["head", "lstm"]
    tr = rec["head"]
    torch.testing.assert_close(tr.weights, model.head.wei, atol=1e-6, rtol=0)
    v = model.head.v(x)
    torch.testing.assert_close(tr.output, model.head.wei @ v, atol=1e-6, rtol=0)
    with torch.no_grad():  # via='mode' follows the same attention from its product: the same weights
        rec2, out2, caught2 = _run(model, x, via="mode")
    assert torch.equal(out2, ref) and caught2 == [] and rec2.names == ["head", "lstm"]
    torch.testing.assert_close(rec2["head"].weights, tr.weights, atol=1e-6, rtol=0)


def test_a_classifier_softmax_gives_no_trace_and_no_warning():
    torch.manual_seed(0)
    model, x = Classifier().eval(), torch.randn(2, 5, 16)
    with torch.no_grad():
        ref = model(x)
        rec, out, caught = _run(model, x)
    assert all(torch.equal(a, b) for a, b in zip(out, ref))
    assert len(rec) == 0 and rec.skipped == []
    assert [str(w.message) for w in caught if "sequence-mixing" in str(w.message)] == []
    assert _products() == tuple(ORIGINALS[(o, n)] for o, n in ORIGINALS)  # the wrappers are gone


def test_weights_that_never_meet_v_directly_are_named_with_a_fix_that_works():
    torch.manual_seed(0)
    model, x = CastHead().eval(), torch.randn(2, 8, 16)
    with torch.no_grad():
        ref = model(x)
        rec, out, caught = _run(model, x)
    assert torch.equal(out, ref) and len(rec) == 0
    (msg,) = [str(w.message) for w in caught]
    assert "'CastHead' (CastHead:" in msg and "[2, 8, 8]" in msg
    assert "Fix: " + UNFOLLOWED.fix in msg
    assert [n for n, _ in rec.skipped] == ["CastHead"]
    with torch.no_grad():
        rec, out, caught = _run(model, x, via="mode")
    assert torch.equal(out, ref) and caught == [] and rec.names == ["CastHead"]
    torch.testing.assert_close(rec["CastHead"].weights.float(), model.wei, atol=1e-6, rtol=0)  # replayed as cast


def test_an_attention_module_that_changes_path_is_still_recorded():
    torch.manual_seed(0)
    model, x = SwitchAttention().eval(), torch.randn(1, 6, 16)
    with torch.no_grad():
        rec, _, caught = _run(model, x)  # SDPA: the capture learns its cheap path (no HandMode next time)
        assert caught == [] and len(rec) == 1
        model.hand = True
        ref = model(x)
        rec, out, caught = _run(model, x)  # by hand now: the net follows it
    assert torch.equal(out, ref) and caught == [] and len(rec) == 1
    torch.testing.assert_close(rec.traces[0][1].weights, model.wei, atol=1e-6, rtol=0)


@pytest.mark.parametrize("raise_at_end", [False, True])
def test_torch_functions_are_the_originals_after_a_capture(raise_at_end):
    before = (torch.Tensor.softmax, torch.softmax, F.softmax, torch.nn.functional.softmax) + _products()
    model = Block(raise_at_end=raise_at_end).eval()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", CaptureWarning)
        try:
            with capture(model):
                with capture(model):  # nested: the inner one leaves the outer one's wrappers on
                    model(torch.randn(1, 4, 16))
                assert torch.Tensor.softmax is not before[0]
                torch.randn(1, 4, 4).softmax(-1)  # outside the model: nothing pending
                model(torch.randn(1, 4, 16))
        except ValueError:
            assert raise_at_end
    assert (torch.Tensor.softmax, torch.softmax, F.softmax, torch.nn.functional.softmax) + _products() == before
    assert torch.randn(2, 3, 3).softmax(-1).shape == (2, 3, 3)


def test_no_warning_for_attention_modules_routers_mha_and_softmax_outside_the_model():
    torch.manual_seed(0)
    x = torch.randn(2, 8, 16)
    for spelling in SPELLINGS:
        model = SelfAttention(spelling=spelling).eval()
        with torch.no_grad():
            rec, _, caught = _run(model, x)
        assert caught == [] and rec.skipped == [] and len(rec) == 1
        torch.testing.assert_close(rec.traces[0][1].weights, model.wei, atol=1e-6, rtol=0)
    model = Router().eval()
    with torch.no_grad():
        ref = model(x)
        with warnings.catch_warnings():
            warnings.simplefilter("error", CaptureWarning)
            with capture(model) as rec:
                out = model(x)
                w = torch.randn(1, 5, 5).softmax(-1)  # outside the model's modules: not its attention
                w @ torch.randn(1, 5, 3)
    assert all(torch.equal(a, b) for a, b in zip(out, ref))
    assert rec.skipped == [] and rec.names == ["mha"]


def test_via_mode_installs_no_wrappers():
    original, model = torch.Tensor.softmax, Block().eval()
    with torch.no_grad(), capture(model, via="mode") as rec:
        inside = torch.Tensor.softmax
        model(torch.randn(1, 4, 16))
    assert inside is original and rec.skipped == [] and rec.names == ["head", "lstm"]


class LayerAndHead(nn.Module):
    """A TransformerEncoderLayer makes the capture use global hooks; the inline head is still recorded."""

    def __init__(self):
        super().__init__()
        self.layer, self.head = nn.TransformerEncoderLayer(16, 2, 32, batch_first=True), Head()

    def forward(self, x):
        return self.head(self.layer(x))


def test_global_hooks_and_capture_of_every_module_record_the_inline_head_too():
    torch.manual_seed(0)
    model, x = LayerAndHead().eval(), torch.randn(2, 8, 16)
    with torch.no_grad():
        ref = model(x)
        rec, out, caught = _run(model, x)
        assert torch.equal(out, ref) and caught == []
        assert rec.skipped == [] and rec.names == ["layer.self_attn", "head"]
        torch.testing.assert_close(rec["head"].weights, model.head.wei, atol=1e-6, rtol=0)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with capture() as rec:
                model(x)
    assert rec.skipped == [] and "Head" in rec.names and caught == []
