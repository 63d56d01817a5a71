"""The generic step controller: clamped stepping, selectors where they apply, play, accessible names."""
import pytest

from tr_widgets import TraceInputError
from tr_widgets.widgets import StepController


def test_accessible_names_are_stable():
    c = StepController(5)
    assert (c.prev_button.description, c.prev_button.tooltip) == ("previous step", "previous step")
    assert (c.next_button.description, c.next_button.tooltip) == ("next step", "next step")
    assert c.play_button.description == "play"
    assert "tr-next" in c.next_button._dom_classes and "tr-prev" in c.prev_button._dom_classes


def test_buttons_step_and_clamp_at_the_ends():
    c = StepController(3)
    c.prev_button.click()
    assert c.step == 0 and c.prev_button.disabled and not c.next_button.disabled
    for _ in range(5):
        c.next_button.click()
    assert c.step == 2 and c.next_button.disabled and not c.prev_button.disabled
    assert c.slider.value == 2 and c.player.value == 2  # every control follows


def test_slider_and_player_drive_the_step():
    c = StepController(10)
    c.slider.value = 7
    assert c.step == 7 and c.player.value == 7
    c.player.value = 3  # the browser's clock ticking
    assert c.step == 3 and c.slider.value == 3


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


def test_play_restarts_from_the_end_and_speed_sets_the_interval():
    c = StepController(5, interval=500)
    c.step = 4
    c.play_button.value = True
    assert c.step == 0
    c.speed.value = 100
    assert c.player.interval == 100


def test_repr_is_deterministic():
    a = StepController(5, step_name="t", selectors={"layer": ["0", "1"]})
    b = StepController(5, step_name="t", selectors={"layer": ["0", "1"]})
    assert repr(a) == repr(b) == "StepController(t=0 of 5, layer=0)"
    bundle = a._repr_mimebundle_()
    assert bundle["text/plain"] == repr(a) and "t=0 of 5" in bundle["text/html"]


def test_a_custom_interval_is_kept():
    c = StepController(5, interval=300)
    assert c.player.interval == 300 and c.speed.value == 300
