"""Recurrent views: the step's numbers, substituted equations, the hidden matrix and the graph."""
import re

import numpy as np
import pytest
import torch
from torch import nn

import tr_widgets
from tr_widgets.views import graph_window, hidden_matrix, recurrent_axes, step_view


def _trace(module, T=9, B=2, seed=0):
    torch.manual_seed(seed)
    return tr_widgets.trace_recurrent(module, torch.randn(T, B, module.input_size))


@pytest.fixture(scope="module")
def lstm():
    torch.manual_seed(0)
    return _trace(nn.LSTM(3, 5, num_layers=2, bidirectional=True))


def test_axes(lstm):
    assert recurrent_axes(lstm) == [("layer", ["0", "1"]), ("direction", ["forward", "reverse"]),
                                    ("batch", ["0", "1"])]


def test_hidden_matrix_is_units_by_steps(lstm):
    m = hidden_matrix(lstm, 1, 1, 1)
    assert m.shape == (5, 9) and m.dtype == np.float32
    assert np.allclose(m, lstm.hidden(1, 1)[:, 1].T.numpy())


def test_step_view_values_are_the_trace_step(lstm):
    sv = step_view(lstm, 4, layer=1, direction=1, batch=1, units=3)
    st = lstm.step(4, layer=1, direction=1, batch=1)
    for name, x in st.tensors.items():
        assert np.allclose(sv.values[name], x.numpy()), name
    # the input and recurrent parts add up to each pre-activation
    for g in "ifgo":
        assert np.allclose(sv.values[f"x_part_{g}"] + sv.values[f"h_part_{g}"], sv.values[f"a_{g}"], atol=1e-6)
    assert sv.units == [0, 1, 2] and len(sv.equations) == 6


def _numbers(cell: str) -> list[float]:
    return [float(x) for x in re.findall(r"-?\d+\.\d+(?:e[-+]\d+)?", cell)]


@pytest.mark.parametrize("module", [nn.LSTM(3, 4), nn.GRU(3, 4), nn.RNN(3, 4), nn.RNN(3, 4, nonlinearity="relu")])
def test_substituted_equations_redo_the_arithmetic(module):
    tr = _trace(module)
    sv = step_view(tr, 5, batch=1, units=4)
    v = sv.values
    for row in sv.equations:
        for j, cell in enumerate(row.cells):
            nums = _numbers(cell)
            assert abs(nums[-1] - float(v["h_t" if row.lhs == "h_t" else
                                         {"i_t": "i", "f_t": "f", "g_t": "g", "o_t": "o", "r_t": "r", "z_t": "z",
                                          "n_t": "n", "c_t": "c_t"}[row.lhs]][j])) < 1e-3, cell
    if tr.kind == "lstm":  # c_t = f·c_prev + i·g, with the printed numbers
        f, c_prev, i, g, c = _numbers(sv.equations[4].cells[0])
        assert abs(f * c_prev + i * g - c) < 2e-3


def test_projected_lstm_and_units_are_bounded():
    tr = _trace(nn.LSTM(3, 6, proj_size=2), seed=1)
    sv = step_view(tr, 2, units=4)
    assert len(sv.equations[-1].cells) == 4 and sv.equations[-1].cells[3] == "·"


def test_graph_grows_with_the_step_and_is_windowed():
    h = np.random.default_rng(0).normal(size=(4, 100)).astype(np.float32)
    assert graph_window(h, 0).steps == [0]
    assert graph_window(h, 3).steps == [0, 1, 2, 3]
    g = graph_window(h, 50, max_nodes=12)
    assert g.steps == list(range(39, 51)) and g.elided == 39
    assert np.isclose(g.norms[-1], np.linalg.norm(h[:, 50]))
    r = graph_window(h, 90, direction=1, max_nodes=12)
    assert r.steps == list(range(90, 100)) and r.elided == 0  # reverse: computed from T-1 down
