"""StateStepper through its traits: every panel follows step and selection, for tiny Mamba, Mamba-2,
RWKV and Gated DeltaNet mixers built from configs (the numbers are the trace's)."""
import numpy as np
import pytest
import torch

from tests.state import first_layer_traces
from tr_widgets import TraceInputError
from tr_widgets.engine.state import trace_state
from tr_widgets.views import dequantize
from tr_widgets.widgets import show
from tr_widgets.widgets.steppers.state import StateStepper

pytest.importorskip("transformers").logging.set_verbosity_error()
T = 7


@pytest.fixture(scope="module")
def traces():
    return first_layer_traces(T)


def heatmap(s) -> np.ndarray:
    return dequantize(s.heatmap.window_codes(), s.heatmap.vmin, s.heatmap.vmax)


def close(shown, exact, s) -> bool:  # within one colour level
    return np.abs(shown - exact).max() <= (s.heatmap.vmax - s.heatmap.vmin) / 253 + 1e-7


def test_show_returns_a_state_stepper_with_one_counting_convention(traces):
    s = show(traces["mamba"])
    assert type(s) is StateStepper
    assert repr(s) == ("StateStepper(StateTrace(kind='mamba', name='layer0', steps=7, batch=2, every=3), "
                       "t=0 (0–6), batch=0, channel=0)")
    assert "t = 0 (0–6) · mamba layer0 · batch 0, channel 0" in s.controller.caption.value
    s.step = T - 1
    assert "t = 6 (0–6)" in s.controller.caption.value


def test_mamba_follows_step_and_selection(traces):
    tr = traces["mamba"]
    s = show(tr, step=2)
    assert close(heatmap(s), tr.state(2)[0].numpy(), s) and (s.heatmap.full_rows, s.heatmap.full_cols) == (64, 8)
    s.next()
    assert s.step == 3 and s.heatmap.step == s.quantities.step == s.output.step == 3
    assert close(heatmap(s), tr.state(3)[0].numpy(), s)
    s.select(batch=1, channel=5)
    q = tr.quantities(3)
    got = s.quantities.series()
    assert np.array_equal(got["A_bar"], q["A_bar"][1, 5].numpy())
    assert np.array_equal(got["delta"], q["delta"][1].numpy())
    assert s.quantities.marks[s.quantities.names.index("delta")] == 5 and s.heatmap.mark_row == 5
    assert close(heatmap(s), tr.state(3)[1].numpy(), s) and s.step == 3
    assert np.array_equal(s.output.series()["output"], tr.output[1, 3].numpy())
    assert "t = 3 (0–6)" in s.controller.caption.value and "batch 1, channel 5" in s.controller.caption.value


def test_colour_range_is_fixed_over_steps(traces):
    s = show(traces["mamba"])
    ranges = set()
    for t in range(T):
        s.step = t
        ranges.add((s.heatmap.vmin, s.heatmap.vmax))
    assert len(ranges) == 1


def test_mamba2_and_gated_deltanet_show_the_selected_head(traces):
    for fam, H in (("mamba2", 8), ("gated_deltanet", 4)):
        tr = traces[fam]
        s = show(tr, step=4, head=3, batch=1)
        assert close(heatmap(s), tr.state(4)[1, 3].numpy(), s)
        decay = "dA" if fam == "mamba2" else "decay"
        q = tr.quantities(4)
        assert np.array_equal(s.quantities.series()[decay], q[decay][1].numpy())
        assert s.quantities.marks[s.quantities.names.index(decay)] == 3 and len(s.quantities.series()[decay]) == H
        s.select(head=0)
        s.previous()
        assert close(heatmap(s), tr.state(3)[1, 0].numpy(), s) and "head 0" in s.controller.caption.value


def test_rwkv_state_tuple_is_drawn_as_series(traces):
    tr = traces["rwkv"]
    s = show(tr, step=1)
    assert s.heatmap is None and s.state_panel.names == ["att_shift", "num", "den", "max"]
    s.next()
    for name, part in zip(s.state_panel.names, tr.state(2)):
        assert np.array_equal(s.state_panel.series()[name], part[0].numpy())
    got = s.quantities.series()
    for name in ("numerator", "denominator", "max"):
        assert np.array_equal(got[name], tr.quantities(2)[name][0].numpy())


def test_memory_panel_sets_the_state_beside_the_kv_cache(traces):
    tr = traces["mamba"]
    s = show(tr, step=4)
    v = s.memory.value
    assert "state 6 KiB (constant, trace.state_bytes)" in v and tr.state_bytes == 6144
    assert "KV cache 2.5 KiB = 2 (K, V) × 5 positions × d_model 32 × batch 2 × 4 B (float32)" in v
    assert "heads × head_dim = d_model" in v and v.count("<polyline") == 2
    s.next()
    assert "× 6 positions" in s.memory.value


def test_snapshot_and_repr_are_deterministic(traces):
    for tr in traces.values():
        a, b = show(tr, step=3).snapshot_html(), show(tr, step=3).snapshot_html()
        assert a == b and "bytes per layer" in a
        assert show(tr)._repr_mimebundle_()["text/plain"].startswith("StateStepper(StateTrace(")


@pytest.mark.parametrize("options,match", [({"max_bars": 2}, "max_bars"), ({"head": 0}, "one of the options"),
                                           ({"channel": 64}, r"channel=.*\[0, 63\]"), ({"step": 7}, "step")])
def test_options_are_validated(traces, options, match):
    with pytest.raises(TraceInputError, match=match):
        show(traces["mamba"], **options)


def test_large_states_are_windowed_with_an_overview():
    torch.manual_seed(0)
    D, N = 300, 16
    tr = trace_state("mamba", x=torch.randn(1, 40, D), delta=torch.rand(1, 40, D), A=-torch.rand(D, N),
                     B=torch.randn(1, 40, N), C=torch.randn(1, 40, N), D=torch.ones(D))
    s = show(tr, step=30, channel=250, window=64, max_bars=32, frames=0)
    h = s.heatmap
    assert (h.rows, h.cols) == (64, 16) and h.r0 <= 250 < h.r0 + 64 and h.mark_row == 250
    assert h.overview_codes().shape[0] <= 256 and "overview" in h.notice
    assert max(s.quantities.lengths) <= 32 and close(heatmap(s), tr.state(30)[0, h.r0:h.r0 + 64].numpy(), s)


def test_small_traces_step_in_the_browser_and_in_exported_pages(traces):
    s = show(traces["gated_deltanet"])
    assert s.frames_mode == "browser"
    page = s.export_html()
    assert "data-tr-frames='1'" in page and "class='tr-snapshot'" in page
