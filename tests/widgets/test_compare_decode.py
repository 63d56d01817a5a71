"""CompareStepper of two decodes (issue 24): ``show(wi)`` of a what-if whose run returned a decode shows the two
decodes on one clock (ticks): both runs' tokens side by side, the token the edit fed marked, the tick where the runs
part marked, and ‖Δ‖ of each layer's KV cache (the tiny GPT) or state-space state (a tiny Hugging Face Mamba) per
tick. The chart's values are checked against ``Comparison.cache_delta_norm`` of the two decodes compared on their
own, and the frames the browser steps through against what Python draws at each step."""
import warnings

import numpy as np
import pytest
import torch

import tr_widgets
from tests.i18n.test_zh_steppers import english_left
from tr_widgets.engine.whatif import Edit, compare, what_if
from tr_widgets.views.compare_decode import LAYER_CSS, PARTS_CSS
from tr_widgets.views.looks_text import LineChartLook
from tr_widgets.widgets import frames as fr
from tr_widgets.widgets.steppers.compare import CompareStepper

PROMPT, N, TICK = "The cat sat on the", 6, 2  # the edit feeds another token at TICK


@pytest.fixture(scope="module")
def gpt():
    model, tok = tr_widgets.load_tiny()
    wi = what_if(model, lambda: tr_widgets.decode(model, PROMPT, N, tokenizer=tok), Edit.token(TICK, "dog"))
    return wi, tok


@pytest.fixture(scope="module")
def mamba():
    tf = pytest.importorskip("transformers")
    from tests.state import build

    torch.manual_seed(0)
    lm = tf.MambaForCausalLM(build("mamba").config).eval()
    ids = torch.randint(0, 64, (1, 5))
    return what_if(lm, lambda: tr_widgets.decode(lm, ids, N), Edit.token(TICK, 7))


def chart(s, kind):
    return next(lk for lk in s.caches[kind].looks if isinstance(lk, LineChartLook))


def check_cache_panel(s, wi, kind):
    want = compare(wi.before_output, wi.after_output).cache_delta_norm(kind).numpy()  # [ticks, layers], its own
    assert list(s.caches) == [kind] and s.caches[kind] in s.panels[2].children
    for t in (0, TICK, N - 1):
        s.step = t
        look = chart(s, kind)
        layers = [ln for ln in look.lines if ln.css == LAYER_CSS]
        assert len(layers) == want.shape[1] and look.current == t and look.last == N - 1
        for layer, ln in enumerate(layers):
            assert list(ln.slots) == list(range(N))
            assert np.array_equal(np.asarray(ln.values), want[:, layer])  # the engine's numbers, exactly
        assert f"data-tr-step='{t}'" in s.caches[kind].value
    marks = [ln for ln in chart(s, kind).lines if ln.css == PARTS_CSS]
    assert [list(m.slots) for m in marks] == [[TICK, TICK]]  # the runs part where the edit fed its token
    assert (want[:TICK] == 0).all() and (want[TICK:] > 0).all()  # ... and the cache with them


def test_show_of_a_token_edit_on_the_tiny_gpt_shows_the_two_decodes(gpt):
    wi, tok = gpt
    s = tr_widgets.show(wi)
    assert type(s) is CompareStepper and s.what_if is wi
    assert s.trace.traces() == (wi.before_output, wi.after_output) and s.trace.edits == wi.edits
    assert s.controller.n_steps == N and s.trace.word() == "tick"
    assert s.tokens in s.panels and "compare(wi.before, wi.after)" in s.summary.value
    check_cache_panel(s, wi, "kv")


def test_the_parting_tick_is_marked_in_every_panel(gpt):
    wi, tok = gpt
    s = tr_widgets.show(wi, step=N - 1)
    assert s.heatmap.highlight_col == TICK and f"tick = {TICK} (0–{N - 1})" in s.summary.value
    fed = wi.after_output.ticks[TICK].query_position  # where the fed token sits
    rows = s.tokens.looks[1].rows
    col = [c.text.lstrip("▸ ") for c in rows[0]].index(str(fed))
    assert rows[2][col].text == "✎ dog" and rows[1][col].text == "≠ " + wi.before_output.tokens[fed]
    assert f"tick {TICK} is fed &#x27;dog&#x27;" in s.tokens.value
    norms = next(lk for lk in s.norms.looks if isinstance(lk, LineChartLook))
    assert norms.lines[0].dash and list(norms.lines[0].slots) == list(range(TICK))  # muted until they part


def test_each_cached_positions_difference_is_a_bar_apart_from_the_fed_token_on(gpt):
    wi, _ = gpt
    cmp = compare(wi.before_output, wi.after_output)
    fed = wi.after_output.ticks[TICK].query_position
    s = tr_widgets.show(wi)
    assert s.kv_bars in s.panels
    for t in (TICK - 1, TICK, N - 1):
        s.step = t
        (shown,) = s.kv_bars.series().values()
        want = cmp.kv_delta_by_position(t).numpy()
        assert np.array_equal(shown, want.astype(np.float32)) and len(shown) == wi.after_output.ticks[t].keys
        assert s.kv_bars.marks == [fed if t >= TICK else -1] and f"tick {t}" in s.kv_bars.title
        if t >= TICK:  # the rows before the fed token equal, its own row and those after apart
            assert (want[:fed] == 0).all() and (want[fed:] > 0).all()


def test_show_of_a_token_edit_on_a_mamba_decode_charts_the_state(mamba):
    wi = mamba
    s = tr_widgets.show(wi)
    assert type(s) is CompareStepper and s.trace.traces() == (wi.before_output, wi.after_output)
    assert s.kv_bars is None  # a fixed-size state: no row per position
    check_cache_panel(s, wi, "state")


def test_two_decodes_compared_show_the_kv_panel_too():
    model, tok = tr_widgets.load_tiny()
    d1, d2 = (tr_widgets.decode(model, p, 4, tokenizer=tok) for p in ("The cat", "The dog"))
    cmp = compare(d1, d2)
    s = tr_widgets.show(cmp, step=3)
    want = cmp.cache_delta_norm("kv").numpy()
    layers = [ln.values for ln in chart(s, "kv").lines if ln.css == LAYER_CSS]
    assert np.array_equal(np.stack(layers, 1), want) and s.trace is cmp
    assert [list(m.slots) for m in chart(s, "kv").lines if m.css == PARTS_CSS] == [[0, 0]]  # apart from tick 0
    assert "compare(wi.before" not in s.summary.value  # given the decodes: nothing to say about a what-if


def test_frames_in_the_browser_step_the_cache_panel(gpt):
    wi, _ = gpt
    s = tr_widgets.show(wi, progress=False)
    assert s.frames_mode == "browser"
    first, frames = fr.unpack(s.controller.clock.frames)
    assert first == 0 and len(frames) == N
    i = s._targets.index(s.caches["kv"])
    for step in (TICK, 0, N - 1):
        s.step = step
        assert frames[step] == fr.state_of(s._targets), f"frame {step} differs from the drawn step"
        assert f"data-tr-step='{step}'" in frames[step][i]["value"]


def test_chinese_and_save(gpt, tmp_path):
    wi, _ = gpt
    s = tr_widgets.show(wi, lang="zh", step=TICK)
    left = english_left(s, {"tinygpt", "compare", "before", "after", "dog", "the", "cat", "sat", "mat", "was", "sad"})
    assert left == [], left
    assert "KV 缓存" in s.caches["kv"].value and "第 0 层" in s.caches["kv"].value
    s = tr_widgets.show(wi, step=TICK)
    s.save(str(tmp_path / "decodes.svg"))
    svg = (tmp_path / "decodes.svg").read_text(encoding="utf-8")
    assert "KV cache after each tick" in svg and svg.count("tr-cache-layer") == 2


def test_a_token_edit_whose_run_returns_no_decode_is_shown_per_call_with_a_warning(gpt):
    _, tok = gpt
    model, _ = tr_widgets.load_tiny()
    wi = what_if(model, lambda: tr_widgets.decode(model, PROMPT, 4, tokenizer=tok).text, Edit.token(TICK, "dog"))
    with pytest.warns(UserWarning, match="not the DecodeTrace"):
        s = tr_widgets.show(wi)
    assert s.trace is wi and s.caches == {}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lstm, x = torch.nn.LSTM(2, 3), torch.randn(4, 1, 2)
        tr_widgets.show(what_if(lstm, lambda: lstm(x)[0], Edit.state("LSTM", 1, 0.0)))  # no decode: no warning


def test_a_token_edit_with_a_head_cut_is_shown_per_call_with_a_warning():
    """The decodes' per-tick attention is derived again from q, k, v, without the cut: shown per recorded call,
    where the edited call's own trace holds it (its diverges_at is the truth), and the user is told."""
    model, tok = tr_widgets.load_tiny()
    run = lambda: tr_widgets.decode(model, PROMPT, 4, tokenizer=tok)  # noqa: E731
    wi = what_if(model, run, Edit.token(TICK, "dog"), Edit.head("h.1.attn#2", 0))
    with pytest.warns(UserWarning, match="head cut"):
        s = tr_widgets.show(wi)
    assert s.trace is wi and s.caches == {} and "h.1.attn#2" in s.trace.names
    cut = what_if(model, run, Edit.head("h.1.attn#3", 0))  # no token edit: per call, as any what-if
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert tr_widgets.show(cut).trace is cut and cut.diverges_at["h.1.attn#3"] == 0
