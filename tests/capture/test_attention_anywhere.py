"""Hand-written attention in the styles learners write it, outside any module named Attention (issue 22):
d2l's masked softmax and bmm, "Let's build GPT"'s heads in a list, an einsum spelling; recorded by default and
equal to the module's own weights and output. A sampling loop's softmax over [B, T, V] logits gives no trace, no
warning, and leaves torch's functions as they were."""
import math
import warnings

import torch
import torch.nn.functional as F
from torch import nn

from tr_widgets.engine.capture import capture
from tr_widgets.engine.capture.hand_anywhere import ORIGINALS
from tr_widgets.engine.capture.record import CaptureWarning


def _masked_softmax(X, valid_lens):
    """d2l's masked_softmax: keys past each valid length get -1e6 before the softmax."""
    shape = X.shape
    valid = torch.repeat_interleave(valid_lens, shape[1])
    flat = X.reshape(-1, shape[-1])  # (B·Q, K)
    mask = torch.arange(shape[-1], dtype=torch.float32)[None, :] < valid[:, None]
    flat[~mask] = -1e6
    return F.softmax(flat.reshape(shape), dim=-1)


class DotScorer(nn.Module):
    """d2l's DotProductAttention under a class name that does not say Attention."""

    def __init__(self):
        super().__init__()
        self.dropout = nn.Dropout(0.1)

    def forward(self, queries, keys, values, valid_lens):
        scores = torch.bmm(queries, keys.transpose(1, 2)) / math.sqrt(queries.shape[-1])  # (B, Q, K)
        self.weights = _masked_softmax(scores, valid_lens)
        return torch.bmm(self.dropout(self.weights), values)  # (B, Q, V)


class Head(nn.Module):
    def __init__(self, d, hs):
        super().__init__()
        self.key, self.query, self.value = nn.Linear(d, hs, bias=False), nn.Linear(d, hs, bias=False), \
            nn.Linear(d, hs, bias=False)
        self.register_buffer("tril", torch.tril(torch.ones(16, 16)))

    def forward(self, x):
        B, T, C = x.shape
        k, q = self.key(x), self.query(x)  # (B, T, hs)
        wei = q @ k.transpose(-2, -1) * k.shape[-1] ** -0.5  # (B, T, T)
        wei = wei.masked_fill(self.tril[:T, :T] == 0, float("-inf"))
        self.wei = F.softmax(wei, dim=-1)
        return self.wei @ self.value(x)  # (B, T, hs)


class MultiHead(nn.Module):
    def __init__(self, d=16, n=2):
        super().__init__()
        self.heads = nn.ModuleList([Head(d, d // n) for _ in range(n)])
        self.proj = nn.Linear(d, d)

    def forward(self, x):
        return self.proj(torch.cat([h(x) for h in self.heads], dim=-1))


class EinsumMix(nn.Module):
    def forward(self, q, k, v):
        self.w = torch.einsum("bhid,bhjd->bhij", q, k).div(q.shape[-1] ** 0.5).softmax(-1)  # (B, H, L, S)
        return torch.einsum("bhij,bhjd->bhid", self.w, v)


class TinyLM(nn.Module):
    def __init__(self, vocab=13, d=8):
        super().__init__()
        self.emb, self.rnn, self.head = nn.Embedding(vocab, d), nn.GRU(d, d, batch_first=True), nn.Linear(d, vocab)

    def forward(self, ids):
        return F.softmax(self.head(self.rnn(self.emb(ids))[0]), dim=-1)  # (B, T, V): a classifier's softmax


def _quiet_capture(model, run):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with capture(model) as rec:
            out = run()
    return rec, out, [w for w in caught if issubclass(w.category, CaptureWarning)]


def test_d2l_masked_softmax_and_bmm():
    torch.manual_seed(0)
    m = DotScorer().eval()
    q, k, v, lens = torch.randn(2, 3, 4), torch.randn(2, 5, 4), torch.randn(2, 5, 6), torch.tensor([2, 4])
    ref = m(q, k, v, lens)
    rec, out, caught = _quiet_capture(m, lambda: m(q, k, v, lens))
    assert torch.equal(out, ref) and caught == [] and rec.names == ["DotScorer"]
    tr = rec["DotScorer"]
    torch.testing.assert_close(tr.weights, m.weights, atol=1e-6, rtol=0)
    torch.testing.assert_close(tr.output, ref, atol=1e-6, rtol=0)


def test_heads_in_a_module_list_each_recorded():
    torch.manual_seed(0)
    m, x = MultiHead().eval(), torch.randn(2, 7, 16)
    with torch.no_grad():
        ref = m(x)
        rec, out, caught = _quiet_capture(m, lambda: m(x))
    assert torch.equal(out, ref) and caught == [] and rec.names == ["heads.0", "heads.1"]
    for i, h in enumerate(m.heads):
        torch.testing.assert_close(rec[f"heads.{i}"].weights, h.wei, atol=1e-6, rtol=0)
        assert bool((rec[f"heads.{i}"].weights[0].triu(1) == 0).all())  # causal, as the module's own


def test_einsum_spelling():
    torch.manual_seed(0)
    m = EinsumMix()
    q, k, v = torch.randn(1, 2, 4, 8), torch.randn(1, 2, 6, 8), torch.randn(1, 2, 6, 3)
    ref = m(q, k, v)
    rec, out, caught = _quiet_capture(m, lambda: m(q, k, v))
    assert torch.equal(out, ref) and caught == [] and len(rec) == 1
    tr = rec.traces[0][1]
    torch.testing.assert_close(tr.weights, m.w, atol=1e-6, rtol=0)
    torch.testing.assert_close(tr.output, ref, atol=1e-6, rtol=0)


def test_a_sampling_loop_softmax_gives_no_attention_trace():
    torch.manual_seed(0)
    lm = TinyLM().eval()
    ids = torch.randint(0, 13, (1, 4))

    def sample():
        out = ids
        for _ in range(3):
            probs = lm(out)  # (B, T, V)
            nxt = torch.multinomial(probs[:, -1], 1, generator=torch.Generator().manual_seed(1))
            out = torch.cat([out, nxt], dim=1)
        return out
    with torch.no_grad():
        ref = sample()
        rec, out, caught = _quiet_capture(lm, sample)
    assert torch.equal(out, ref) and caught == [] and rec.skipped == []
    assert rec.names == ["rnn", "rnn#2", "rnn#3"]  # the GRU, never a softmax
    products = (torch.Tensor.__matmul__, torch.Tensor.matmul, torch.matmul, torch.Tensor.bmm, torch.bmm, torch.einsum)
    assert products == tuple(ORIGINALS.values())


def test_nested_captures_each_record_the_head():
    torch.manual_seed(0)
    m, x = MultiHead().eval(), torch.randn(1, 5, 16)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with torch.no_grad(), capture(m) as outer:
            with capture(m) as inner:
                m(x)
            m(x)
    assert [w for w in caught if issubclass(w.category, CaptureWarning)] == []
    assert inner.names == ["heads.0", "heads.1"]
    assert outer.names == ["heads.0", "heads.1", "heads.0#2", "heads.1#2"]
    torch.testing.assert_close(outer["heads.1#2"].weights, m.heads[1].wei, atol=1e-6, rtol=0)


def test_the_stepper_shows_a_trace_built_from_kept_logits():
    from tr_widgets import show
    torch.manual_seed(0)
    m, x = MultiHead().eval(), torch.randn(1, 6, 16)
    with torch.no_grad(), capture(m) as rec:
        m(x)
    tr = rec["heads.0"]
    assert tr.E == 0  # no q·k kept: the scores are the softmax's own input
    s = show(tr, progress=False)
    s.step = 3
    assert "query=3" in repr(s)
    torch.testing.assert_close(tr.row(3, (0,)).weights, m.heads[0].wei[0, 3], atol=1e-6, rtol=0)
