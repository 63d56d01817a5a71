"""GradientStepper through its traits: the clock runs backwards, every panel follows step and selection."""
import numpy as np
import pytest
import torch
from torch import nn

import tr_widgets
from tr_widgets import TraceInputError
from tr_widgets.views import dequantize
from tr_widgets.widgets import show
from tr_widgets.widgets.steppers.gradients import GradientStepper


@pytest.fixture(scope="module")
def lstm_g():
    torch.manual_seed(0)
    return tr_widgets.trace_gradients(nn.LSTM(3, 5, num_layers=2), torch.randn(9, 2, 3),
                                      lambda out: out[0][-1].pow(2).sum())


@pytest.fixture(scope="module")
def rnn_g():
    torch.manual_seed(1)
    return tr_widgets.trace_gradients(nn.RNN(2, 4, bidirectional=True), torch.randn(6, 1, 2),
                                      lambda out: out[0].sum())


def test_show_returns_a_gradient_stepper(lstm_g):
    s = show(lstm_g)
    assert type(s) is GradientStepper
    assert repr(s) == ("GradientStepper(GradientTrace(kind='lstm', T=9, B=2, H=5, layers=2, directions=1), "
                       "k=0 (0–8), layer=0, batch=0)")
    assert "backward step k = 0 (0–8): time t = 8 (0–8)" in s.controller.caption.value


def test_step_moves_every_panel_backwards_in_time(lstm_g):
    s = show(lstm_g, step=2)
    t = 6  # backward step 2 of 9 visits time T - 1 - 2
    st = lstm_g.step(t, layer=0)
    assert s.heatmap.mark_col == t and s.heatmap.step == s.flow.step == s.flow_c.step == s.gains.step == 2
    h = s.flow.series()
    assert np.allclose(h["δh_t = ∂L/∂h_t arriving"], lstm_g.hidden(0)[t, 0].numpy())
    assert np.allclose(h["δh_{t-1} ← W_hhᵀ δa_t leaving"], st["dh_to_prev"].numpy())
    c = s.flow_c.series()
    assert np.allclose(c["f_t forget gate"], st["f_t"].numpy())
    assert np.allclose(c["δc_{t-1} ← f_t ⊙ δc_t leaving"], st["dc_to_prev"].numpy())
    assert s.gains.blocked_series()["log10 gain"].tolist() == [True] * 6 + [False] * 3
    assert "time t = T − 1 − k = 6" in s.table.value and "drawn: 3 of the 9 points" in s.norms.value
    s.next()
    assert s.heatmap.mark_col == 5 and "drawn: 4 of the 9 points" in s.norms.value
    assert "time t = 5" in s.controller.caption.value


def test_selection_switches_layer_and_batch(lstm_g):
    s = show(lstm_g, step=4)
    s.select(layer=1, batch=1)
    assert np.allclose(s.flow.series()["δh_t = ∂L/∂h_t arriving"], lstm_g.hidden(1)[4, 1].numpy())
    shown = dequantize(s.heatmap.window_codes(), s.heatmap.vmin, s.heatmap.vmax)
    assert np.abs(shown - lstm_g.hidden(1)[:, 1].T.numpy()).max() <= (s.heatmap.vmax - s.heatmap.vmin) / 253
    assert s.step == 4 and "layer 1" in s.table.value


def test_reverse_direction_runs_forward_in_time(rnn_g):
    s = show(rnn_g, direction=1, step=1)
    assert s.flow_c is None and s.heatmap.mark_col == 1
    assert np.allclose(s.flow.series()["δh_{t+1} leaving"], rnn_g.step(1, direction=1)["dh_to_prev"].numpy())
    assert "time t = k = 1" in s.table.value


def test_snapshot_is_deterministic_and_names_the_axis(lstm_g):
    a, b = show(lstm_g, step=3).snapshot_html(), show(lstm_g, step=3).snapshot_html()
    assert a == b and "log10 ‖∂L/∂h_t‖" in a and "through c at t = 5" in a
    assert show(lstm_g)._repr_mimebundle_()["text/plain"].startswith("GradientStepper(")


@pytest.mark.parametrize("options,match", [({"units": 0}, r"units=.*\[1, 16\]"), ({"max_points": 2}, "max_points"),
                                           ({"layer": 2}, r"layer=.*\[0, 1\]"), ({"step": 9}, "step"),
                                           ({"colour": 1}, "one of the options")])
def test_options_are_validated(lstm_g, options, match):
    with pytest.raises(TraceInputError, match=match):
        show(lstm_g, **options)


def test_long_traces_stay_bounded():
    torch.manual_seed(2)
    g = tr_widgets.trace_gradients(nn.GRU(2, 300), torch.randn(2000, 1, 2), lambda out: out[0][-1].sum())
    s = show(g, step=1500, window=64, max_points=128, max_bars=32, frames=0)  # frames=0: no recording of all 2000 steps
    assert (s.heatmap.rows, s.heatmap.cols) == (64, 64) and s.heatmap.c0 <= 499 < s.heatmap.c0 + 64
    assert s.heatmap.overview_codes().shape[1] <= 256 and len(s.gains.series()["log10 gain"]) == 125
    assert max(s.flow.lengths) <= 3 * 32
