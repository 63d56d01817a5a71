"""Oracle tests: trace_gradients equals autograd through the module unrolled step by step with its cells
(nn.LSTMCell / nn.GRUCell / nn.RNNCell sharing the module's weights; the documented equations for a
projected LSTM, which no torch cell supports), and autograd through the fused module for ∂L/∂x."""
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from tr_widgets.engine.gradients import GradientTrace, trace_gradients

KINDS = {"rnn_tanh": nn.RNN, "rnn_relu": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
CELLS = {"rnn_tanh": nn.RNNCell, "rnn_relu": nn.RNNCell, "lstm": nn.LSTMCell, "gru": nn.GRUCell}


def build(cfg, dtype=torch.float64):
    """The module, x and hx (None or random) in the user's layout."""
    torch.manual_seed(cfg["seed"])
    kw = dict(num_layers=cfg["L"], bidirectional=cfg["bi"], batch_first=cfg["batch_first"], bias=cfg["bias"])
    if cfg["kind"].startswith("rnn"):
        kw["nonlinearity"] = cfg["kind"][4:]
    if cfg["proj"]:
        kw["proj_size"] = cfg["proj"]
    m = KINDS[cfg["kind"]](cfg["I"], cfg["H"], **kw).to(dtype).eval()
    T, B, I = cfg["T"], cfg["B"], cfg["I"]
    shape = (T, I) if cfg["unbatched"] else ((B, T, I) if cfg["batch_first"] else (T, B, I))
    x = torch.randn(*shape, dtype=dtype)
    lead = (cfg["L"] * (2 if cfg["bi"] else 1),) + (() if cfg["unbatched"] else (B,))
    hx = None
    if cfg["with_hx"]:
        h0 = torch.randn(*lead, cfg["proj"] or cfg["H"], dtype=dtype)
        hx = (h0, torch.randn(*lead, cfg["H"], dtype=dtype)) if cfg["kind"] == "lstm" else h0
    return m, x, hx


def make_loss(cfg, m, x, hx, which):
    """A loss with random weights on every part of what the module returns (or only some of it)."""
    with torch.no_grad():
        out, hid = m(x, hx)
    lstm = cfg["kind"] == "lstm"
    h_n, c_n = hid if lstm else (hid, None)
    gen = torch.Generator().manual_seed(cfg["seed"] + 1)
    rand = lambda shape: torch.randn(shape, generator=gen, dtype=out.dtype)  # noqa: E731
    w_o, w_h, w_c = rand(out.shape), rand(h_n.shape), rand(h_n.shape[:-1] + (cfg["H"],))
    last = 0 if cfg["unbatched"] or not cfg["batch_first"] else 1

    def loss_fn(returned):
        output, hidden = returned
        hn, cn = hidden if lstm else (hidden, None)
        if which == "last":  # the classic "predict from the last step": gradients must travel back
            return (output.select(last, -1).tanh() * w_o.select(last, -1)).sum()
        loss = (output.tanh() * w_o).sum() + (hn * w_h).sum() + 0.5 * hn.pow(2).sum()
        return loss + (cn * w_c).sum() if lstm else loss
    return loss_fn


def cell_of(m, kind, layer, d):
    """A cell sharing layer `layer`, direction `d`'s weights (None for a projected LSTM)."""
    sfx = f"_l{layer}" + ("_reverse" if d else "")
    if getattr(m, "proj_size", 0):
        return None
    w = getattr(m, "weight_ih" + sfx)
    kw = {"nonlinearity": kind[4:]} if kind.startswith("rnn") else {}
    cell = CELLS[kind](w.shape[1], m.hidden_size, bias=m.bias, dtype=w.dtype, **kw)
    for name in ("weight_ih", "weight_hh") + (("bias_ih", "bias_hh") if m.bias else ()):
        setattr(cell, name, getattr(m, name + sfx))  # the same Parameter objects: shared weights
    return cell


def proj_lstm_step(m, layer, d, x, h, c):
    """torch's documented LSTM equations with projection, h_t = W_hr (o_t ⊙ tanh c_t)."""
    sfx = f"_l{layer}" + ("_reverse" if d else "")
    get = lambda n: getattr(m, n + sfx, None)  # noqa: E731
    pre = F.linear(x, get("weight_ih"), get("bias_ih")) + F.linear(h, get("weight_hh"), get("bias_hh"))
    i, f, g, o = pre.chunk(4, -1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return F.linear(torch.sigmoid(o) * torch.tanh(c), get("weight_hr")), c


def unroll(m, kind, xs, h0, c0):
    """xs [T, B, I]; h0/c0 [L*D, B, ·]. Every h_t and c_t is a node of one autograd graph."""
    L, D, T = m.num_layers, 2 if m.bidirectional else 1, xs.shape[0]
    inp, hs, cs, hn, cn = xs, {}, {}, [], []
    for layer in range(L):
        outs = []
        for d in range(D):
            cell, h = cell_of(m, kind, layer, d), h0[layer * D + d]
            c = c0[layer * D + d] if kind == "lstm" else None
            hs[layer, d], cs[layer, d] = [None] * T, [None] * T
            for t in (range(T - 1, -1, -1) if d else range(T)):
                if kind == "lstm":
                    h, c = cell(inp[t], (h, c)) if cell is not None else proj_lstm_step(m, layer, d, inp[t], h, c)
                else:
                    h = cell(inp[t], h)
                hs[layer, d][t], cs[layer, d][t] = h, c
            hn.append(h), cn.append(c)
            outs.append(torch.stack(hs[layer, d]))  # [T, B, Hout]
        inp = torch.cat(outs, -1)  # [T, B, D*Hout]
    return inp, hs, cs, torch.stack(hn), torch.stack(cn) if kind == "lstm" else None


def check(cfg, dtype=torch.float64, tol=1e-10, which="all"):
    m, x, hx = build(cfg, dtype)
    loss_fn = make_loss(cfg, m, x, hx, which)
    g = trace_gradients(m, x, loss_fn, hx)
    kind, lstm, ub, bf = cfg["kind"], cfg["kind"] == "lstm", cfg["unbatched"], cfg["batch_first"]
    L, D, T = cfg["L"], 2 if cfg["bi"] else 1, cfg["T"]
    assert isinstance(g, GradientTrace) and len(g) == T and g.kind == kind
    assert (g.num_layers, g.num_directions, g.hidden_size) == (L, D, cfg["H"])
    # The oracle: the cells unrolled, autograd of L w.r.t. every intermediate h_t and c_t.
    xs = (x.unsqueeze(1) if ub else (x.transpose(0, 1) if bf else x)).detach().requires_grad_()
    B, Hout = xs.shape[1], cfg["proj"] or cfg["H"]
    h0 = torch.zeros(L * D, B, Hout, dtype=dtype) if hx is None else (hx[0] if lstm else hx).reshape(L * D, B, Hout)
    c0 = (torch.zeros(L * D, B, cfg["H"], dtype=dtype) if hx is None else hx[1].reshape(L * D, B, -1)) if lstm else None
    top, hs, cs, hn, cn = unroll(m, kind, xs, h0, c0)
    out = top.squeeze(1) if ub else (top.transpose(0, 1) if bf else top)
    fit = (lambda s: s.squeeze(1)) if ub else (lambda s: s)
    loss = loss_fn((out, (fit(hn), fit(cn))) if lstm else (out, fit(hn)))
    keys = [(l, d) for l in range(L) for d in range(D)]
    nodes = [h for k in keys for h in hs[k]] + ([c for k in keys for c in cs[k]] if lstm else []) + [xs]
    grads = torch.autograd.grad(loss, nodes, allow_unused=True)
    grads = [torch.zeros_like(n) if gr is None else gr for n, gr in zip(nodes, grads)]
    torch.testing.assert_close(g.loss, loss.detach(), atol=tol, rtol=tol)
    for j, (l, d) in enumerate(keys):
        want = torch.stack(grads[j * T:(j + 1) * T])  # [T, B, Hout]
        torch.testing.assert_close(g.hidden(l, d), want, atol=tol, rtol=tol)
        torch.testing.assert_close(g.norms(l, d), torch.linalg.vector_norm(want, dim=(1, 2)), atol=tol, rtol=tol)
        if lstm:
            off = len(keys) * T
            want_c = torch.stack(grads[off + j * T:off + (j + 1) * T])  # [T, B, H]
            torch.testing.assert_close(g.cell(l, d), want_c, atol=tol, rtol=tol)
    xg = grads[-1].squeeze(1) if ub else (grads[-1].transpose(0, 1) if bf else grads[-1])
    torch.testing.assert_close(g.inputs(), xg, atol=tol, rtol=tol)
    # ∂L/∂x and ∂L/∂hx through the fused module itself.
    x_leaf = x.clone().requires_grad_()
    hx_leaves = () if hx is None else tuple(v.clone().requires_grad_() for v in (hx if lstm else (hx,)))
    fused = loss_fn(m(x_leaf, None if hx is None else (hx_leaves if lstm else hx_leaves[0])))
    want = torch.autograd.grad(fused, (x_leaf,) + hx_leaves)
    torch.testing.assert_close(g.inputs(), want[0], atol=tol, rtol=tol)
    if hx is not None:
        got = g.initial_state() if lstm else (g.initial_state(),)
        for a, b in zip(got, want[1:]):
            torch.testing.assert_close(a, b, atol=tol, rtol=tol)
    assert all(p.grad is None for p in m.parameters())  # nothing accumulated into .grad
    return g


BASE = dict(I=3, H=4, L=1, bi=False, batch_first=False, bias=True, proj=0, T=5, B=2, unbatched=False,
            with_hx=False, seed=0)
CASES = [dict(kind=k) for k in KINDS] + [
    dict(kind="lstm", proj=2), dict(kind="lstm", proj=3, L=2, bi=True, with_hx=True),
    dict(kind="gru", L=3, bi=True), dict(kind="rnn_tanh", L=3, bi=True, batch_first=True, with_hx=True),
    dict(kind="rnn_relu", L=2, bi=True, unbatched=True, with_hx=True),
    dict(kind="lstm", L=3, bi=True, batch_first=True, with_hx=True, bias=False),
    dict(kind="gru", L=2, unbatched=True, with_hx=True, bias=False), dict(kind="lstm", T=1, B=1, bi=True),
]


@pytest.mark.parametrize("which", ["all", "last"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_gradients_equal_autograd_of_the_unrolled_cells(case, which):
    check({**BASE, **case}, which=which)


@pytest.mark.parametrize("kind", sorted(KINDS) + ["proj"])
def test_float32_within_1e_5(kind):
    cfg = {**BASE, "kind": "lstm" if kind == "proj" else kind, "proj": 2 if kind == "proj" else 0,
           "L": 2, "bi": True, "T": 7, "with_hx": True}
    check(cfg, dtype=torch.float32, tol=1e-5)


@st.composite
def configs(draw):
    kind = draw(st.sampled_from(sorted(KINDS)))
    H = draw(st.integers(1, 5))
    return dict(kind=kind, I=draw(st.integers(1, 4)), H=H, L=draw(st.integers(1, 3)), bi=draw(st.booleans()),
                batch_first=draw(st.booleans()), bias=draw(st.booleans()),
                proj=draw(st.integers(0, H - 1)) if kind == "lstm" and H > 1 else 0, T=draw(st.integers(1, 6)),
                B=draw(st.integers(1, 3)), unbatched=draw(st.booleans()), with_hx=draw(st.booleans()),
                seed=draw(st.integers(0, 2**16)))


@settings(max_examples=150, deadline=None)
@given(configs(), st.sampled_from(["all", "last"]))
def test_random_configurations_equal_autograd(cfg, which):
    check(cfg, which=which)
