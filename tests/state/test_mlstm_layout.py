"""xLSTM's mLSTM in the StateStepper: ``show`` of a captured xLSTM state trace steps, its heatmap is the matrix
memory C of the selected batch item and head (the first part of the state tuple (C, n, m)), its bars are the
trace's own quantities, over heads where a quantity has one value per head."""
import warnings

import numpy as np
import pytest
import torch

from tr_widgets import capture
from tr_widgets.engine.state import StateTrace
from tr_widgets.views import dequantize
from tr_widgets.views.state import LAYOUTS, state_axes, state_matrix
from tr_widgets.widgets import show
from tr_widgets.widgets.steppers.state import StateStepper

transformers = pytest.importorskip("transformers")
transformers.logging.set_verbosity_error()
T, H = 6, 4


@pytest.fixture(scope="module")
def trace():
    torch.manual_seed(0)
    cfg = transformers.xLSTMConfig(vocab_size=64, hidden_size=32, num_hidden_layers=1, num_heads=H, qk_dim_factor=2.0,
                                   v_dim_factor=2.0, pad_token_id=0)
    model = transformers.xLSTMModel(cfg).eval()
    with warnings.catch_warnings(), torch.no_grad(), capture(model) as rec:
        warnings.simplefilter("ignore")
        model(torch.randint(3, 64, (2, T), generator=torch.Generator().manual_seed(0)))
    return next(t for _, t in rec if isinstance(t, StateTrace))


def heatmap(s) -> np.ndarray:
    return dequantize(s.heatmap.window_codes(), s.heatmap.vmin, s.heatmap.vmax)


def close(shown, exact, s) -> bool:  # within one colour level
    return np.abs(shown - exact).max() <= (s.heatmap.vmax - s.heatmap.vmin) / 253 + 1e-7


def test_mlstm_has_a_layout_with_a_head_selector(trace):
    assert trace.kind == "mlstm" and "mlstm" in LAYOUTS
    C, n, m = trace.state(0)
    assert {name: len(o) for name, o in state_axes(trace)} == {"batch": 2, "head": C.shape[1]} and C.shape[1] == H
    assert np.array_equal(state_matrix(trace, 3, {"batch": 1, "head": 2}), trace.state(3)[0][1, 2].numpy())


def test_show_steps_an_xlstm_state_trace(trace):
    s = show(trace, step=2, head=1, batch=1)
    assert type(s) is StateStepper and s.matrix
    C = trace.state(2)[0]  # [B, H, d_qk, d_v]
    assert close(heatmap(s), C[1, 1].float().numpy(), s)
    assert (s.heatmap.full_rows, s.heatmap.full_cols) == tuple(C.shape[2:])
    s.next()
    assert s.step == 3 and close(heatmap(s), trace.state(3)[0][1, 1].float().numpy(), s)
    q = trace.quantities(3)
    got = s.quantities.series()
    assert list(got) == [n for n in trace.names if n in q]
    for name in ("f_act", "i_act", "m"):  # one value per head: the bar is over heads, the selected one marked
        assert np.array_equal(got[name], q[name][1].float().numpy().ravel()) and len(got[name]) == H
        assert s.quantities.marks[s.quantities.names.index(name)] == 1
    assert np.array_equal(got["h"], q["h"][1, 1].float().numpy())  # the head's output, over d_v
    s.select(head=3, batch=0)
    assert close(heatmap(s), trace.state(3)[0][0, 3].float().numpy(), s) and "head 3" in s.controller.caption.value
