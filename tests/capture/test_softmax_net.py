"""Never silent about hand-written attention outside attention-named modules (issue 10): with the default
``via="patch"``, a softmax over score-shaped weights inside a plain ``Block``/``Head`` is named in the warning
and ``rec.skipped``, with a fix that works (``via="mode"`` records it); torch's softmaxes are put back."""
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tr_widgets.engine.capture import capture
from tr_widgets.engine.capture.record import CaptureWarning
from tr_widgets.engine.capture.softmax_net import UNWATCHED

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


def _run(model, x, via="patch"):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with capture(model, via=via) as rec:
            out = model(x)
    return rec, out, [w for w in caught if issubclass(w.category, CaptureWarning)]


@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
def test_inline_attention_outside_attention_modules_is_named_with_a_fix_that_works(spelling):
    torch.manual_seed(0)
    model, x = Block(spelling).eval(), torch.randn(2, 8, 16)
    with torch.no_grad():
        ref = model(x)
        rec, out, caught = _run(model, x)
    assert torch.equal(out, ref)  # bitwise unchanged
    assert rec.names == ["lstm"]
    assert len(caught) == 1
    msg = str(caught[0].message)
    assert "'head' (Head:" in msg and "[2, 8, 8]" in msg
    assert "Fix: capture(model, via='mode') records hand-written attention in any module" in msg
    assert [n for n, _ in rec.skipped] == ["head"]
    with pytest.raises(KeyError, match="ran but is not supported"):
        rec["head"]
    with torch.no_grad():  # the fix: via='mode' records it, equal to the module's own weights
        rec, out, caught = _run(model, x, via="mode")
    assert torch.equal(out, ref) and caught == [] and rec.skipped == []
    assert rec.names == ["head", "lstm"]
    torch.testing.assert_close(rec["head"].weights, model.head.wei, atol=1e-6, rtol=0)


def test_fix_text_is_the_one_table_entry():
    assert UNWATCHED.fix.startswith("capture(model, via='mode') records hand-written attention in any module")


@pytest.mark.parametrize("raise_at_end", [False, True])
def test_torch_softmaxes_are_the_originals_after_a_capture(raise_at_end):
    before = (torch.Tensor.softmax, torch.softmax, F.softmax, torch.nn.functional.softmax)
    model = Block(raise_at_end=raise_at_end).eval()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", CaptureWarning)
        try:
            with capture(model):
                with capture(model):  # nested: the inner one leaves the outer one's wrappers on
                    model(torch.randn(1, 4, 16))
                assert torch.Tensor.softmax is not before[0]
                model(torch.randn(1, 4, 16))
        except ValueError:
            assert raise_at_end
    assert (torch.Tensor.softmax, torch.softmax, F.softmax, torch.nn.functional.softmax) == before
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
                torch.randn(1, 5, 5).softmax(-1)  # outside the model's modules: not its attention
    assert all(torch.equal(a, b) for a, b in zip(out, ref))
    assert rec.skipped == [] and rec.names == ["mha"]


def test_via_mode_installs_no_wrappers():
    original, model = torch.Tensor.softmax, Block().eval()
    with torch.no_grad(), capture(model, via="mode") as rec:
        inside = torch.Tensor.softmax
        model(torch.randn(1, 4, 16))
    assert inside is original and rec.skipped == [] and rec.names == ["head", "lstm"]


class LayerAndHead(nn.Module):
    """A TransformerEncoderLayer makes the capture use global hooks; the inline head is still named."""

    def __init__(self):
        super().__init__()
        self.layer, self.head = nn.TransformerEncoderLayer(16, 2, 32, batch_first=True), Head()

    def forward(self, x):
        return self.head(self.layer(x))


def test_global_hooks_and_capture_of_every_module_name_the_inline_head_too():
    torch.manual_seed(0)
    model, x = LayerAndHead().eval(), torch.randn(2, 8, 16)
    with torch.no_grad():
        ref = model(x)
        rec, out, caught = _run(model, x)
        assert torch.equal(out, ref) and len(caught) == 1
        assert [n for n, _ in rec.skipped] == ["head"] and rec.names == ["layer.self_attn"]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with capture() as rec:
                model(x)
    assert [n for n, _ in rec.skipped] == ["Head"] and len(caught) == 1
