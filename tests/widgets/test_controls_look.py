"""The controls' look (issue 13): words from the catalogues, the counting convention, the caption announced,
the keys and "tr-go" bound in player.js, the controls kept in view (tr.css). The browser half is in
tests/browser/test_browser_keyboard.py and test_browser_save.py."""
import json
import re
from pathlib import Path

import torch

import tr_widgets
from tr_widgets import i18n
from tr_widgets.widgets import StepController, esm, show
from tr_widgets.widgets.controller import step_range

STATIC = Path(tr_widgets.__file__).parent / "static"
PLAYER = esm.module("player")  # player.js with what it imports


def _js_words() -> dict[str, str]:
    body = re.search(r"const WORDS = \{(.*?)\};", PLAYER, re.S).group(1)
    return dict(re.findall(r'(\w+): "((?:[^"\\]|\\.)*)"', body))


def test_every_word_the_controls_show_is_a_control_message_in_every_language():
    words = _js_words()
    assert {"previous", "next", "play", "pause", "speed", "loading", "readout", "save", "keys"} <= set(words)
    for lang, cat in i18n.CATALOGUES.items():
        missing = [k for k in words if f"control.{k}" not in cat]
        assert not missing, (lang, missing)
    en = i18n.CATALOGUES["en"]
    assert {k: en[f"control.{k}"] for k in words} == words  # the JavaScript's defaults are the English messages


def test_the_player_shows_no_word_of_its_own():
    # every English word appears once, in WORDS (the fallback); the controls show word(model, key)
    for text in _js_words().values():
        assert PLAYER.count(f'"{text}"') == 1 or text in _js_words(), text  # a key may share its word
    assert "innerHTML" not in PLAYER


def test_steps_are_counted_from_zero_with_the_range():
    c = StepController(10, step_name="query", selectors={"head": ["0", "1"]})
    c.step = 3
    assert c.describe() == "query=3 (0–9), head=0" and repr(c) == "StepController(query=3 (0–9), head=0)"
    assert repr(c.clock) == "StepClock(query=3 (0–9))" and step_range("t", 0, 1) == "t=0 (0–0)"
    assert i18n.msg("control.readout", name="query", step=3, first=0, last=9) == "query 3 (0–9)"


def test_the_clock_speaks_the_steppers_language():
    with i18n.language("zh"):
        c = StepController(4)
    assert c.clock.texts["save"] == i18n.CATALOGUES["zh"]["control.save"] and c.clock.texts["pause"] == "暂停"


def test_the_caption_is_named_for_the_announcement_and_travels_to_exported_pages():
    torch.manual_seed(0)
    q, k, v = torch.randn(3, 5, 4).unbind(0)  # each [T=5, E=4]
    att = show(tr_widgets.trace_attention(q, k, v, tokens=list("abcde")), progress=False)
    clock = att.controller.clock
    assert att._targets[clock.caption_target] is att.controller.caption
    spec = json.loads(re.search(r"<script type='application/json' class='tr-export-data'>(.*?)</script>",
                                att.export_html(), re.S).group(1).replace("<\\/", "</"))
    assert spec["texts"] == clock.texts and spec["caption_target"] == clock.caption_target


def test_keys_and_clicks_are_bound_on_the_stepper_and_stop_there():
    assert 'closest(".tr-stepper") || from.closest(".tr-export")' in PLAYER
    assert 'window.addEventListener("keydown", onWindowKey, true)' in PLAYER  # before JupyterLab's document listener
    assert 'addEventListener("tr-go"' in PLAYER and "e.stopPropagation()" in PLAYER
    assert 'setAttribute("aria-live", "polite")' in PLAYER


def test_the_controls_stay_in_view_in_the_themes_background():
    # (position: sticky does not stick in JupyterLab: the output area is a scroll container; see player.js)
    css = (STATIC / "tr.css").read_text(encoding="utf-8")
    mine = css[css.index("/* controls (player.js) */"):]
    assert "z-index" in mine and "var(--tr-bg" in mine and ".tr-saving .tr-controller { transform: none" in mine
    assert "function keepInView(view)" in PLAYER and 'document.addEventListener("scroll", onScroll' in PLAYER
