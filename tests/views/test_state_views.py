"""State views against the trace's own numbers: the heatmap is trace.state(t) of the selection, the bars
are trace.quantities(t) sliced, the bytes are trace.state_bytes beside a KV cache of the stated size."""
import numpy as np
import pytest
import torch

from tests.state import first_layer_traces
from tr_widgets.engine.state import trace_state
from tr_widgets.views.state import (LAYOUTS, memory_view, output_bar, quantity_bars, reduce, state_axes, state_matrix,
                                    state_range, state_series)

pytest.importorskip("transformers").logging.set_verbosity_error()
T = 7


@pytest.fixture(scope="module")
def traces():
    return first_layer_traces(T)


def bars(tr, t, sel, **kw):
    return {b.name: b for b in quantity_bars(tr, t, sel, **kw)}


def test_axes_follow_the_family(traces):
    assert [n for n, _ in state_axes(traces["mamba"])] == ["batch", "channel"]
    assert len(dict(state_axes(traces["mamba"]))["channel"]) == 64  # d_inner = expand · hidden
    assert {n: len(o) for n, o in state_axes(traces["mamba2"])} == {"batch": 2, "head": 8, "channel": 8}
    assert {n: len(o) for n, o in state_axes(traces["gated_deltanet"])} == {"batch": 2, "head": 4}
    assert {n: len(o) for n, o in state_axes(traces["rwkv"])} == {"batch": 2, "channel": 32}
    assert set(traces) <= set(LAYOUTS)


def test_every_family_has_a_view_layout():
    """The StateStepper shows every family the engine records (xLSTM's (C, n, m) as its matrix C: see
    tests/state/test_mlstm_layout.py)."""
    from tr_widgets.engine.state.families import specs
    assert {k.name for k in specs()} - set(LAYOUTS) == set()


@pytest.mark.parametrize("t", [0, 3, T - 1])
def test_mamba_heatmap_is_the_state_of_the_batch_item(traces, t):
    tr = traces["mamba"]
    for b in range(2):
        assert np.array_equal(state_matrix(tr, t, {"batch": b}), tr.state(t)[b].numpy())


def test_headed_heatmaps_are_one_head(traces):
    for fam in ("mamba2", "gated_deltanet"):
        tr = traces[fam]
        assert np.array_equal(state_matrix(tr, 4, {"batch": 1, "head": 3}), tr.state(4)[1, 3].numpy())


@pytest.mark.parametrize("family", ["zamba", "qwen3_5", "olmo_hybrid"])
def test_families_found_by_structure_show_their_own_state(family):
    """Zamba's per-head Mamba and Gated DeltaNet under other projections: one head's state, as the trace has it."""
    import warnings

    from tests.state.zoo import build_zoo
    from tr_widgets import capture
    from tr_widgets.engine.state import StateTrace
    model = build_zoo(family)
    with warnings.catch_warnings(), torch.no_grad(), capture(model) as rec:
        warnings.simplefilter("ignore")
        model(torch.randint(3, 64, (2, 5), generator=torch.Generator().manual_seed(0)))
    tr = next(t for _, t in rec if isinstance(t, StateTrace))
    assert np.array_equal(state_matrix(tr, 4, {"batch": 1, "head": 1}), tr.state(4)[1, 1].numpy())


def test_mamba_bars_are_the_quantities(traces):
    tr = traces["mamba"]
    q = tr.quantities(3)
    got = bars(tr, 3, {"batch": 1, "channel": 5})
    assert list(got) == list(tr.names)
    for name in ("x", "delta", "gate", "y"):
        assert np.array_equal(got[name].values, q[name][1].numpy()) and got[name].mark == 5
    for name in ("A_bar", "Bx"):  # [B, d_inner, d_state]: the selected channel's row, over n
        assert np.array_equal(got[name].values, q[name][1, 5].numpy()) and got[name].mark == -1
    for name in ("B", "C"):
        assert np.array_equal(got[name].values, q[name][1].numpy())
    assert np.array_equal(got["D"].values, q["D"].detach().numpy())
    assert "channel 5" in got["A_bar"].note


def test_mamba2_bars_are_one_head(traces):
    tr = traces["mamba2"]  # 8 heads in 2 groups: head 5 reads group 1
    q = tr.quantities(2)
    got = bars(tr, 2, {"batch": 0, "head": 5, "channel": 2})
    assert np.array_equal(got["B"].values, q["B"][0, 5].numpy()) and "head 5" in got["B"].note
    assert np.array_equal(got["B"].values, tr.inputs["B"][0, 2, 1].numpy())
    assert np.array_equal(got["Bx"].values, q["Bx"][0, 5, 2].numpy())
    assert np.array_equal(got["x"].values, q["x"][0, 5].numpy()) and got["x"].mark == 2
    assert np.array_equal(got["dA"].values, q["dA"][0].numpy()) and got["dA"].mark == 5


def test_every_family_shows_every_quantity(traces):
    for tr in traces.values():
        q = tr.quantities(1)
        got = bars(tr, 1, {"batch": 1})
        assert list(got) == [n for n in tr.names if n in q]
        assert all(b.values.ndim == 1 and b.values.dtype == np.float32 for b in got.values())
    rwkv = traces["rwkv"]
    got = bars(rwkv, 1, {"batch": 1})
    assert np.array_equal(got["running_max"].values, rwkv.quantities(1)["running_max"][1].numpy())


def test_rwkv_state_is_its_tuple_as_series(traces):
    tr = traces["rwkv"]
    series = state_series(tr, 4, {"batch": 1, "channel": 3})
    assert [s.name for s in series] == ["att_shift", "num", "den", "max"]
    for s, part in zip(series, tr.state(4)):
        assert np.array_equal(s.values, part[1].numpy()) and s.mark == 3


def test_bars_are_windowed_around_the_channel():
    v = torch.arange(300.0).view(1, 300)
    vec, mark, _ = reduce(v, "bc", {"batch": 0, "channel": 250})
    assert mark == 250 and np.array_equal(vec, np.arange(300.0))
    torch.manual_seed(0)
    tr = trace_state("mamba", x=torch.randn(1, 5, 300), delta=torch.rand(1, 5, 300), A=-torch.rand(300, 4),
                     B=torch.randn(1, 5, 4), C=torch.randn(1, 5, 4))  # bare tensors: no D, no gate
    got = bars(tr, 2, {"batch": 0, "channel": 250}, max_bars=64)
    assert "D" not in got and "gate" not in got
    x = got["x"]
    assert len(x.values) == 64 and x.lo <= 250 < x.lo + 64 and x.values[x.mark] == tr.quantities(2)["x"][0, 250]
    assert f"{x.lo}–{x.lo + 63} of 300" in x.note


def test_colour_range_covers_the_kept_states(traces):
    tr = traces["mamba"]
    lo, hi = state_range(tr, {"batch": 0})
    kept = [tr.state(s)[0].abs().max().item() for s in (tr.every - 1, 2 * tr.every - 1, T - 1)]
    assert lo == -hi and hi == pytest.approx(max(kept))


def test_output_is_what_the_mixer_returned(traces):
    for fam in ("mamba", "rwkv"):
        tr = traces[fam]
        out = tr.output[0] if isinstance(tr.output, tuple) else tr.output
        assert np.array_equal(output_bar(tr, 3, 1).values, out[1, 3].numpy())


def test_memory_sets_the_fixed_state_beside_a_growing_kv_cache(traces):
    tr = traces["mamba"]
    m = memory_view(tr, 4)
    assert m.state_bytes == tr.state_bytes == 2 * 64 * 8 * 4 + 2 * 64 * 4 * 4  # ssm + conv buffer, B = 2, fp32
    assert (m.d_model, m.batch, m.itemsize) == (32, 2, 4)
    assert m.kv_bytes == 2 * 5 * 32 * 2 * 4 and m.steps.tolist() == [0, 1, 2, 3, 4]
    assert m.kv_at(np.arange(T)).tolist() == [2 * (s + 1) * 32 * 2 * 4 for s in range(T)]
    assert memory_view(tr, 6).state_bytes == m.state_bytes  # constant
    assert m.crossover is None and "stays below the state" in m.caption()
    r = memory_view(traces["rwkv"], 0)
    assert r.crossover == r.state_bytes // r.per_position
    assert r.kv_at(r.crossover) > r.state_bytes >= r.kv_at(r.crossover - 1)
    assert "d_model 32" in r.caption() and "heads × head_dim = d_model" in r.caption()


def test_memory_series_is_bounded():
    torch.manual_seed(0)
    tr = trace_state("rwkv", k=torch.randn(1, 3000, 4), v=torch.randn(1, 3000, 4), time_decay=torch.rand(4),
                     time_first=torch.rand(4))
    m = memory_view(tr, 2500, max_points=100)
    assert len(m.steps) <= 101 and m.steps[-1] == 2500 and m.steps[0] == 0
