"""Gradient views: the numbers shown for a backward step are the trace's, the series fill in backwards."""
import numpy as np
import pytest
import torch
from torch import nn

import tr_widgets
from tr_widgets.views.gradients import backward_time, gradient_matrix, gradient_view, norm_series, visited

LOSS = lambda out: out[0].tanh().pow(2).sum()  # noqa: E731  every step gets a direct part


def _g(module, T=7, B=2, seed=0):
    torch.manual_seed(seed)
    return tr_widgets.trace_gradients(module, torch.randn(T, B, module.input_size), LOSS)


@pytest.fixture(scope="module")
def traces():
    torch.manual_seed(0)
    return {"rnn": _g(nn.RNN(3, 4)), "gru": _g(nn.GRU(3, 4, bidirectional=True)),
            "lstm": _g(nn.LSTM(3, 5, num_layers=2, proj_size=3))}


def test_the_clock_runs_backwards():
    assert [backward_time(k, 5) for k in range(5)] == [4, 3, 2, 1, 0]
    assert [backward_time(k, 5, direction=1) for k in range(5)] == [0, 1, 2, 3, 4]
    assert visited(5, 1).tolist() == [False, False, False, True, True]
    assert visited(5, 1, direction=1).tolist() == [True, True, False, False, False]


@pytest.mark.parametrize("kind,layer,direction", [("rnn", 0, 0), ("gru", 0, 0), ("gru", 0, 1), ("lstm", 0, 0),
                                                  ("lstm", 1, 0)])
def test_shown_vectors_are_the_traces(traces, kind, layer, direction):
    g = traces[kind]
    for k in (0, 3, len(g) - 1):
        gv = gradient_view(g, k, layer, direction, batch=1)
        t = backward_time(k, len(g), direction)
        st = g.step(t, layer=layer, direction=direction, batch=1)
        assert gv.t == t and gv.k == k
        assert np.allclose(gv.values["dh_t"], g.hidden(layer, direction)[t, 1].numpy())
        assert np.allclose(gv.values["dh_to_prev"], st["dh_to_prev"].numpy())
        assert np.allclose(gv.values["dh_direct"] + gv.values["dh_from_next"], gv.values["dh_t"], atol=1e-6)
        assert gv.gain == pytest.approx(float(st["gain"]))
        charts = {name: a for col in gv.h_path for name, a in col}
        assert np.allclose(charts["δh_t = ∂L/∂h_t arriving"], gv.values["dh_t"])
        if kind == "lstm":
            c = {name: a for col in gv.c_path for name, a in col}
            assert np.allclose(c["δc_t = ∂L/∂c_t arriving"], g.cell(layer)[t, 1].numpy())
            assert np.allclose(c["f_t forget gate"], g.factors(layer)["f"][t, 1].numpy())
            assert np.allclose(c["δc_{t-1} ← f_t ⊙ δc_t leaving"], (st["f_t"] * st["dc_t"]).numpy())
        else:
            assert gv.c_path is None


def test_the_rnn_gate_gradient_times_w_hh_is_what_leaves(traces):
    g = traces["rnn"]
    gv = gradient_view(g, 2)
    w_hh = g.forward.params[0][0].w_hh.numpy()
    assert np.allclose(gv.values["da"] @ w_hh, gv.values["dh_to_prev"], atol=1e-6)
    assert np.allclose(gv.values["da"], gv.values["phi_prime_t"] * gv.values["dh_t"])


def test_reverse_direction_labels_point_the_other_way(traces):
    names = [n for col in gradient_view(traces["gru"], 0, direction=1).h_path for n, _ in col]
    assert "δh_t from t-1" in names and "δh_{t+1} leaving" in names


def test_equation_rows_hold_the_numbers(traces):
    gv = gradient_view(traces["lstm"], 1, layer=1, units=4)
    assert len(gv.equations[0].cells) == 4 and gv.equations[0].cells[3] == "·"  # h is projected to 3 units
    assert f"{gv.values['dc_to_prev'][0]:.3f}" in gv.equations[2].cells[0]


def test_norm_series_fills_in_as_the_clock_runs_back(traces):
    g = traces["lstm"]
    T = len(g)
    s = norm_series(g, 2, layer=0)
    assert s.visited.tolist() == [False] * (T - 3) + [True] * 3 and s.t == T - 3 and s.current == T - 3
    assert np.isnan(s.log_norm[:T - 3]).all()
    assert np.allclose(10.0 ** s.log_norm[T - 3:], g.norms(0)[T - 3:].numpy(), rtol=1e-5)
    assert np.allclose(10.0 ** s.log_gain[T - 3:], g.factor_norms(0)[T - 3:].numpy(), rtol=1e-5)
    cn = torch.linalg.vector_norm(g.cell(0), dim=(1, 2))[T - 3:].numpy()
    assert np.allclose(10.0 ** s.log_cell_norm[T - 3:], cn, rtol=1e-5)


def test_long_series_are_binned():
    g = _g(nn.RNN(2, 3), T=1000, B=1)
    s = norm_series(g, 999, max_points=256)
    assert s.steps_per_bin == 4 and len(s.log_norm) == 250 and s.visited.all()
    assert s.log_norm[0] == pytest.approx(np.log10(g.norms()[:4].numpy()).max(), rel=1e-5)


def test_gradient_matrix_is_units_by_steps(traces):
    g = traces["gru"]
    m = gradient_matrix(g, 0, 1, 1)
    assert m.shape == (4, 7) and m.dtype == np.float32
    assert np.allclose(m, g.hidden(0, 1)[:, 1].T.numpy())
