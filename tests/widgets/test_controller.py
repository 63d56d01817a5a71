"""The step controller through its traits: the clock (browser-side controls) follows the step, selectors."""
import pytest

from tr_widgets import TraceInputError
from tr_widgets.widgets import StepController


def test_the_clock_has_the_step_name_and_speeds():
    c = StepController(5, step_name="t")
    assert c.clock.description == "t" and c.clock.n_steps == 5
    assert [ms for _, ms in c.clock.speeds][:5] == [1000, 500, 200, 100, 50]
    assert "tr-step-clock" in c.clock._dom_classes


def test_next_previous_clamp_at_the_ends():
    c = StepController(3)
    assert c.previous() == 0
    for _ in range(5):
        c.next()
    assert c.step == 2 and c.clock.step == 2


def test_the_browser_clock_drives_the_step():
    c = StepController(10)
    c.clock.step = 7  # what a click or the slider in the page sends
    assert c.step == 7
    c.step = 3
    assert c.clock.step == 3


def test_out_of_range_step_raises_a_clear_error():
    c = StepController(4)
    with pytest.raises(TraceInputError, match=r"step: expected an int in \[0, 3\], got 4"):
        c.step = 4
    assert c.step == 0


def test_selectors_are_shown_only_where_they_apply():
    c = StepController(4, selectors={"layer": ["0", "1"], "direction": ["forward"], "batch": ["0", "1", "2"]})
    shown = [w.description for w in c.children[1].children if hasattr(w, "options")]
    assert shown == ["layer", "batch"]
    assert c.selection == {"layer": 0, "direction": 0, "batch": 0}


def test_select_updates_the_selection_once():
    c = StepController(4, selectors={"batch": ["0", "1"], "head": ["0", "1", "2"]})
    seen = []
    c.observe(lambda ch: seen.append(ch["new"]), names="selection")
    c.select(batch=1, head=2)
    assert seen == [{"batch": 1, "head": 2}]  # never a half-updated mix
    c.selectors["head"].value = 0  # a dropdown changed in the browser
    assert c.selection == {"batch": 1, "head": 0}
    with pytest.raises(TraceInputError, match="head"):
        c.select(head=3)
    with pytest.raises(TraceInputError, match="layer"):
        c.select(layer=0)


def test_play_restarts_from_the_end_and_the_interval_is_kept():
    c = StepController(5, interval=500)
    c.step = 4
    c.playing = True
    assert c.step == 0 and c.clock.playing
    c.interval = 100
    assert c.clock.interval == 100
    d = StepController(5, interval=300)
    assert d.interval == 300 and [300] == [ms for _, ms in d.clock.speeds if ms == 300]


def test_repr_is_deterministic():
    a = StepController(5, step_name="t", selectors={"layer": ["0", "1"]})
    b = StepController(5, step_name="t", selectors={"layer": ["0", "1"]})
    assert repr(a) == repr(b) == "StepController(t=0 (0–4), layer=0)"
    bundle = a._repr_mimebundle_()
    assert bundle["text/plain"] == repr(a) and "t=0 (0–4)" in bundle["text/html"]
