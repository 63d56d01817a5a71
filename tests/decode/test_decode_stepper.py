"""DecodeStepper and its views: every panel follows the tick and the layer/head selectors; the cache
grows; reused and appended positions are told apart; snapshots are static, deterministic and escaped."""
import re

import numpy as np
import pytest
import torch

from tr_widgets.engine.decode import decode
from tr_widgets.models import TinyGPT, TinyGPTConfig, load_tiny
from tr_widgets.views import dequantize
from tr_widgets.views.decode import APPENDED, REUSED, cache_strip, text_parts, tick_view, timeline
from tr_widgets.views.matrix import BLOCKED
from tr_widgets.widgets import show
from tr_widgets.widgets.steppers.decode import DecodeStepper

EVIL = ["<unk>", "<script>alert(1)</script>", "<b>mat</b>", "&amp;", "ok"]


@pytest.fixture(scope="module")
def tiny():
    return load_tiny()


@pytest.fixture(scope="module")
def trace(tiny):
    model, tok = tiny
    return decode(model, "The cat sat on the", 6, tokenizer=tok)


@pytest.fixture(scope="module")
def uncached(tiny):
    model, tok = tiny
    return decode(model, "The cat sat on the", 4, tokenizer=tok, use_cache=False)


def test_show_returns_a_decode_stepper_with_tick_layer_head(trace):
    s = show(trace, progress=False)
    assert type(s) is DecodeStepper and s.controller.n_steps == len(trace)
    assert set(s.controller.selectors) == {"layer", "head"} and s.controller.clock.description == "tick"


def test_tick_change_updates_every_panel(trace):
    s = show(trace, progress=False)
    s.step = 3
    tk = trace.ticks[3]
    hw = trace.head_weights(3, 0).numpy()  # [H, S]
    shown = dequantize(s.row.window_codes(), s.row.vmin, s.row.vmax)
    assert shown.shape == hw.shape and np.abs(shown - hw).max() <= s.row.vmax / 253 + 1e-7
    assert getattr(s.row, "highlight_col", s.row.mark_col) == tk.appended.start and s.row.mark_row == 0
    assert s.row.col_labels == trace.tokens[:tk.keys]
    bars = s.bars.series()[f"w over the cache, layer 0 head 0"]
    assert np.allclose(bars, hw[0], atol=1e-6)
    # the new token is highlighted (orange), not marked (red: only the current step), and the legend says so
    assert s.bars.highlights == [tk.appended.start] and s.bars.marks == [-1]
    assert s.bars.texts["highlight"] == "orange dashed: the new token"
    assert s.times.arrow == ""  # ms per tick and cache length side by side: nothing flows between them
    assert "tr-new-token" in s.text.value and f">{tk.token}<" in s.text.value
    assert s.strip.value.count("tr-key-reused") == len(tk.reused)
    assert s.strip.value.count("tr-key-appended") == len(tk.appended) == 1
    assert s.times.marks == [3, 3] and s.controller.caption.value.count("tick 3 (0–5)") == 1
    assert np.allclose(s.times.series()["ms per tick"], np.array(trace.seconds) * 1e3, rtol=1e-5)


def test_the_cache_panel_grows_one_column_per_tick(trace):
    s = show(trace, progress=False)
    n = len(trace.prompt_ids)
    for t in range(len(trace)):
        s.step = t
        codes = s.cache.window_codes()  # [layers, positions]
        assert codes.shape == (trace.num_layers, trace.ticks[-1].query_position + 1)
        filled = (codes != BLOCKED).sum(axis=1)
        assert (filled == n + t).all()  # the cache after tick t holds n + t positions
        assert (codes[:, n + t - 1] == 253).all()  # the appended one, brightest
        if t:
            assert (codes[:, :n + t - 1] == 126).all()  # the reused ones
        assert s.cache.mark_col == n + t - 1


def test_layer_and_head_selectors_change_the_views(trace):
    s = show(trace, progress=False, step=4)
    before = s.row.window_codes().copy()
    s.select(layer=1, head=2)
    hw = trace.head_weights(4, 1).numpy()
    assert not np.array_equal(before, s.row.window_codes())
    assert s.row.mark_row == 2 and s.cache.mark_row == 1
    assert np.allclose(s.bars.series()["w over the cache, layer 1 head 2"], hw[2], atol=1e-6)
    assert s.selection == {"layer": 1, "head": 2} and s.step == 4
    assert "layer 1, head 2" in s.controller.caption.value


def test_uncached_trace_says_everything_was_recomputed(uncached):
    s = show(uncached, progress=False, step=2)
    assert "no KV cache" in s.cache.title and "recomputed" in s.controller.caption.value
    assert s.strip.value.count("tr-key-reused") == 0 and s.strip.value.count("tr-key-appended") == 1
    assert (s.cache.window_codes()[:, :uncached.ticks[2].keys] == 253).all()


def test_long_sequences_are_windowed_and_pooled():
    torch.manual_seed(0)
    model = TinyGPT(TinyGPTConfig(vocab_size=11, n_layer=1, n_head=2, n_embd=8, block_size=600)).eval()
    tr = decode(model, torch.randint(0, 11, (520,)), 3)
    s = show(tr, progress=False, window=64, overview_px=128, step=2)
    S = tr.ticks[2].keys
    assert (s.row.rows, s.row.cols) == (2, 64) and s.row.c0 + 64 == S and s.row.full_cols == S
    assert s.cache.window_codes().shape[1] <= 128 and "pooled" in s.cache.title
    assert s.strip.value.count("tr-key-") <= 24 and "earlier" in s.strip.value


def test_views_select_the_shown_numbers(trace):
    tv = tick_view(trace, 2, layer=1, head=3, window=4)
    tk = trace.ticks[2]
    assert tv.window.c1 == tk.keys and tv.window.c1 - tv.window.c0 == 4
    assert np.allclose(tv.weights, trace.weights(2, 1, 3).numpy()[-4:])
    assert tv.reused.tolist() == [True, True, True, False] and tv.token == tk.token
    assert tv.top[0][2] == pytest.approx(float(trace.weights(2, 1, 3).max()))
    strip, factors = cache_strip(trace, 2)
    assert factors == (1, 1) and set(np.unique(strip)) == {0.0, REUSED, APPENDED}
    assert timeline(trace).dtype == np.float32 and len(timeline(trace)) == len(trace)
    prompt, made, new, cut = text_parts(trace, 2)
    assert prompt == trace.tokens[:5] and made == trace.tokens[5:7] and new == tk.token and cut == 0


def test_repr_and_snapshot_are_deterministic_and_escaped():
    torch.manual_seed(0)
    model = TinyGPT(TinyGPTConfig(vocab_size=len(EVIL), n_layer=1, n_head=2, n_embd=8, block_size=16)).eval()

    class Tok:
        def encode(self, text):
            return [1, 2, 3, 4]

        def tokens(self, ids):
            return [EVIL[int(i)] for i in ids]

        def decode(self, ids):
            return " ".join(self.tokens(ids))

    tr = decode(model, "x", 3, tokenizer=Tok())
    a, b = show(tr, progress=False, step=1, timeline=False), show(tr, progress=False, step=1, timeline=False)
    ha, hb = a._repr_mimebundle_()["text/html"], b._repr_mimebundle_()["text/html"]
    assert repr(a) == repr(b) and ha == hb and not re.search(r"0x[0-9a-f]{6,}", repr(a))
    assert "<script>" not in ha and "<b>mat</b>" not in ha and "&lt;script&gt;" in ha
    assert "data:image/png;base64," in ha and "timeline" not in ha
    b.step = 2
    assert b._repr_mimebundle_()["text/html"] != ha


def test_bad_options_are_named(trace):
    from tr_widgets import TraceInputError
    for opts in ({"head": 9}, {"layer": 2}, {"timeline": "no"}, {"text_tokens": 2}, {"colour": 1}):
        with pytest.raises(TraceInputError, match=f"DecodeStepper\\({next(iter(opts))}="):
            show(trace, progress=False, **opts)


def test_the_decode_demo_runs_and_documents_its_python():
    pytest.importorskip("IPython")
    from tr_widgets import magic

    s = magic.run_demo("decode", '--prompt "The dog ran to the" --new-tokens 3 --no-cache')
    assert isinstance(s, DecodeStepper) and len(s.trace) == 3 and not s.trace.use_cache
    assert s.trace.text.startswith("The dog ran to the")
    d = magic.run_demo("decode", "--new-tokens 3")
    assert d.trace.ticks[0].token == "mat" and d.trace.text.startswith("The cat sat on the mat")
    args = magic.DEMOS["decode"].parser("decode").parse_args(["--sample", "--seed", "4"])
    code = magic.DEMOS["decode"].python(args)
    assert "sample=True, seed=4" in code and "'The cat sat on the', 5" in code
    assert "%tr_step decode" in magic.TrStepMagics.tr_step.__doc__
    with pytest.raises(Exception, match=r"new-tokens.*\[1, 32\]"):
        magic.run_demo("decode", "--new-tokens 99")


def test_the_cache_panel_does_not_label_positions_not_reached_yet(trace):
    s = show(trace, progress=False, step=1)
    full = trace.ticks[1].query_position + 1
    assert s.cache.col_labels[:full] == trace.tokens[:full] and not any(s.cache.col_labels[full:])
