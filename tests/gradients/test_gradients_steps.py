"""Oracle tests of one backward step: the local factors and Jacobian against autograd through one cell,
how the factors explain the norms, and the trace as lazy, cached data (the helpers are the oracle file's)."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tests.gradients.test_gradients_oracle import BASE, KINDS, build, cell_of, make_loss, proj_lstm_step
from tr_widgets.engine.gradients import GradientTrace, trace_gradients


# -- the local factors -------------------------------------------------------------------------------
@pytest.mark.parametrize("bi", [False, True])
def test_without_the_h_path_the_cell_gradient_is_a_product_of_forget_gates(bi):
    torch.manual_seed(4)
    m, T = nn.LSTM(3, 4, bidirectional=bi).double(), 8
    with torch.no_grad():
        m.weight_hh_l0.zero_()  # gates no longer see h_{t-1}: only c carries the gradient back
        if bi:
            m.weight_hh_l0_reverse.zero_()
    x = torch.randn(T, 2, 3, dtype=torch.float64)
    w = torch.randn(2 if bi else 1, 2, 4, dtype=torch.float64)
    g = trace_gradients(m, x, lambda out: (out[1][1] * w).sum())  # L depends on c_n only
    for d in range(2 if bi else 1):
        sfx = "_l0" + ("_reverse" if d else "")
        pre = F.linear(x, getattr(m, "weight_ih" + sfx), getattr(m, "bias_ih" + sfx) + getattr(m, "bias_hh" + sfx))
        f = torch.sigmoid(pre.chunk(4, -1)[1])  # [T, B, H]: f_t = σ(W_if x_t + b_if + b_hf)
        later = (lambda t: range(t)) if d else (lambda t: range(t + 1, T))  # the steps after t, in d's order
        want = torch.stack([w[d] * torch.prod(torch.stack([f[s] for s in later(t)] or [torch.ones_like(f[0])]), 0)
                            for t in range(T)])  # ∂L/∂c_t = w ⊙ Π f_s over the later steps
        torch.testing.assert_close(g.cell(0, d), want, atol=1e-12, rtol=1e-12)
        torch.testing.assert_close(g.hidden(0, d), torch.zeros(T, 2, 4, dtype=torch.float64))
        torch.testing.assert_close(g.factors(0, d)["f"], f, atol=1e-12, rtol=0)
        for t in (0, 3, T - 1):
            st_ = g.step(t, 0, d, batch=1)
            torch.testing.assert_close(st_["f_t"], f[t, 1], atol=1e-12, rtol=0)
            torch.testing.assert_close(st_["dc_to_prev"], f[t, 1] * want[t, 1], atol=1e-12, rtol=0)
            torch.testing.assert_close(st_["dc_via_h"], torch.zeros(4, dtype=torch.float64))
        ratio = torch.linalg.vector_norm(f * want, dim=(1, 2)) / torch.linalg.vector_norm(want, dim=(1, 2))
        torch.testing.assert_close(g.factor_norms(0, d, path="c"), ratio, atol=1e-12, rtol=0)
        torch.testing.assert_close(g.factor_norms(0, d), ratio, atol=1e-12, rtol=0)  # δh = 0: the state is c


def step_fn(m, kind, layer, d, x_t):
    """One step s_{t-1} -> s_t of the module's cell (s = h, or cat(h, c) for an LSTM)."""
    cell, Hout = cell_of(m, kind, layer, d), getattr(m, "proj_size", 0) or m.hidden_size
    if kind != "lstm":
        return lambda h: cell(x_t, h)
    step = ((lambda h, c: cell(x_t, (h, c))) if cell is not None
            else (lambda h, c: proj_lstm_step(m, layer, d, x_t, h, c)))
    return lambda s: torch.cat(step(s[:Hout], s[Hout:]))


@pytest.mark.parametrize("kind,proj", [(k, 0) for k in sorted(KINDS)] + [("lstm", 2)])
def test_step_record_parts_and_local_jacobian(kind, proj):
    cfg = {**BASE, "kind": kind, "proj": proj, "L": 2, "bi": True, "T": 6, "H": 3, "with_hx": True, "seed": 7}
    m, x, hx = build(cfg)
    loss_fn = make_loss(cfg, m, x, hx, "all")
    g = trace_gradients(m, x, loss_fn, hx)
    with torch.no_grad():
        out, hid = m(x, hx)
    leaves = [v.requires_grad_() for v in (out, *(hid if kind == "lstm" else (hid,)))]
    returned = (leaves[0], tuple(leaves[1:])) if kind == "lstm" else tuple(leaves)
    grads = torch.autograd.grad(loss_fn(returned), leaves)  # ∂L/∂output, ∂L/∂h_n (, ∂L/∂c_n)
    Hout, b, fwd = proj or 3, 1, g.forward
    for layer in (0, 1):
        for d in (0, 1):
            for t in range(6):
                st_ = g.step(t, layer, d, b)
                torch.testing.assert_close(st_["dh_t"], g.hidden(layer, d)[t, b])
                prev = t + 1 if d else t - 1
                if layer == 1:  # the top layer's direct part: ∂L/∂output_t, plus ∂L/∂h_n at the last step
                    last = t == (0 if d else 5)
                    direct = grads[0][t, b, d * Hout:(d + 1) * Hout] + (grads[1][2 + d, b] if last else 0)
                    torch.testing.assert_close(st_["dh_direct"], direct, atol=1e-12, rtol=0)
                    if 0 <= prev < 6:  # what step t sends is what reaches h_{t-1} besides its direct part
                        torch.testing.assert_close(g.step(prev, layer, d, b)["dh_from_next"], st_["dh_to_prev"])
                # J_t against autograd of the cell step at the state the forward trace recorded.
                h_prev = fwd.hidden(layer, d)[prev, b] if 0 <= prev < 6 else fwd.h0[layer * 2 + d, b]
                s_prev = h_prev
                if kind == "lstm":
                    c_prev = fwd.cell(layer, d)[prev, b] if 0 <= prev < 6 else fwd.c0[layer * 2 + d, b]
                    s_prev = torch.cat([h_prev, c_prev])
                J = torch.autograd.functional.jacobian(step_fn(m, kind, layer, d, fwd.inputs(layer)[t, b]), s_prev)
                torch.testing.assert_close(st_["J"], J, atol=1e-12, rtol=0)
                arriving = torch.cat([st_["dh_t"], st_["dc_via_c"]]) if kind == "lstm" else st_["dh_t"]
                leaving = torch.cat([st_["dh_to_prev"], st_["dc_to_prev"]]) if kind == "lstm" else st_["dh_to_prev"]
                torch.testing.assert_close(J.T @ arriving, leaving, atol=1e-12, rtol=0)  # what leaves is Jᵀ δs_t
                torch.testing.assert_close(st_["gain"], leaving.norm() / arriving.norm(), atol=1e-12, rtol=0)


@pytest.mark.parametrize("kind", ["rnn_tanh", "rnn_relu", "gru", "lstm"])
def test_factor_norms_explain_how_the_norm_changes(kind):
    cfg = {**BASE, "kind": kind, "T": 12, "H": 6, "B": 3, "seed": 11}
    m, x, hx = build(cfg)
    g = trace_gradients(m, x, make_loss(cfg, m, x, hx, "last"))  # only the last step gets a direct gradient
    if kind == "lstm":  # the state gradient (δh_t, δc_t not via h_t) is what J_t carries
        c_part = torch.stack([torch.stack([g.step(t, batch=b)["dc_via_c"] for b in range(3)]) for t in range(12)])
        state = torch.hypot(g.norms(), torch.linalg.vector_norm(c_part, dim=(1, 2)))  # [T]
    else:
        state = g.norms()
    gain = g.factor_norms()
    torch.testing.assert_close(state[:-1], gain[1:] * state[1:], atol=1e-12, rtol=1e-10)
    if kind == "rnn_tanh":  # tanh' ≤ 1: a step can at most pass on ‖W_hh‖₂ of the gradient
        assert bool((gain <= torch.linalg.matrix_norm(m.weight_hh_l0, ord=2) + 1e-12).all())
    name = {"rnn_tanh": "phi_prime", "rnn_relu": "phi_prime", "gru": "z", "lstm": "f"}[kind]
    fac = g.factors()[name]
    assert fac.shape == (12, 3, 6)
    h = g.forward.hidden()
    if kind == "rnn_tanh":
        torch.testing.assert_close(fac, 1 - h * h)
    elif kind == "rnn_relu":
        torch.testing.assert_close(fac, (h > 0).double())


def test_trace_is_data_lazy_cached_and_repr_is_short():
    torch.manual_seed(5)
    m = nn.GRU(3, 4, num_layers=2, bidirectional=True)
    x = torch.randn(5, 2, 3)
    g = trace_gradients(m, x, lambda out: out[0].pow(2).sum())
    assert repr(g) == "GradientTrace(kind='gru', T=5, B=2, H=4, layers=2, directions=2)" and len(g) == 5
    assert g.derived == {}  # nothing derived until asked
    n, fn = g.norms(0, 1), g.factor_norms(0, 1)
    assert g.norms(0, 1) is n and g.factor_norms(0, 1) is fn and ("factor_norms", 0, 1) in g.derived
    assert g.hidden() is g.hidden(layer=1) and g.hidden(-2, 1) is g.hidden(0, 1)
    with torch.no_grad():
        out = m(x)
    torch.testing.assert_close(g.output[0], out[0])
    torch.testing.assert_close(g.output[1], out[1])
    assert not g.output[0].requires_grad and not g.loss.requires_grad and g.loss.dim() == 0
    torch.testing.assert_close(g.loss, out[0].pow(2).sum())
    with pytest.raises(Exception):
        g.kind = "lstm"  # frozen: a trace cannot be half-updated


def test_works_under_no_grad_and_on_a_long_sequence_within_the_budget():
    import tr_widgets
    torch.manual_seed(6)
    m, T = nn.LSTM(2, 4), 100_000
    old = tr_widgets.set_memory_budget(40 * 1024**2)  # every materialised tensor stays below 40 MiB
    try:
        with torch.no_grad():
            g = trace_gradients(m, torch.randn(T, 1, 2), lambda out: out[0][-1].sum())
        assert len(g) == T and g.hidden().shape == (T, 1, 4) and g.cell().shape == (T, 1, 4)
        assert bool(torch.isfinite(g.norms()).all()) and g.factor_norms().shape == (T,)
        assert float(g.norms()[-1]) == pytest.approx(2.0)  # ∂(Σ h_T)/∂h_T = ones(4)
    finally:
        tr_widgets.set_memory_budget(old)
