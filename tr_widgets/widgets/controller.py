"""The one step controller every stepper shares. It knows nothing about LSTMs or attention.

It owns an integer ``step`` and a ``selection`` (name -> index of each generic selector: layer,
direction, head, batch...). Steppers observe those two traits and update their views. The buttons,
the slider, play/pause and the speed are drawn by :class:`StepClock` (``static/player.js``), one
anywidget whose JavaScript clock is shared by every view of the stepper: play, pause and steps move
every cell that shows it, and with the frames in the browser (``frames.py``) a step needs no kernel
round trip. Buttons have stable accessible names ("previous step", "next step", "play", which reads
"pause" while playing, "save picture") for people using screen readers and for browser tests; with the
stepper focused, ← → step, Home and End jump and Space plays or pauses (the keys stop there, so they
never reach JupyterLab's shortcuts). Steps are counted 0-based with the range: "query 3 (0–9)".
"""
from __future__ import annotations

import html
import uuid

import anywidget
import ipywidgets as w
import traitlets as t

from ..engine.errors import fail
from ..engine.text import safe_label
from ..i18n import msg, msg_or, texts
from ..views.palette import theme_css
from .panels import CaptionPanel
from . import esm

MUTED_CSS = theme_css("fg-muted")  # the snapshot's text colour, as the theme has it
SPEEDS = [1000, 500, 200, 100, 50, 33]  # ms between steps while playing: 1 to 30 steps/s


def step_range(name: str, step: int, n_steps: int) -> str:
    """A step as Python counts it, 0-based, with the range of steps: the counting convention of every caption.

    Example: ``step_range("t", 3, 10) == "t=3 (0–9)"``
    """
    return f"{name}={step} (0–{max(n_steps, 1) - 1})"


class StepClock(anywidget.AnyWidget):
    """The controls and the browser-side clock of one stepper (``static/player.js``).

    ``frames`` holds the frames the browser steps through (``frames.py``); ``targets`` the model ids
    of the panels each frame sets; ``frames_mode`` says whether steps are applied in the browser.

    Example::

        clock = StepClock(n_steps=5, description="t"); clock.step = 2
        repr(clock) == "StepClock(t=2 (0–4))"
    """

    _esm = esm.module("player")  # static/player.js with what it imports (widgets/esm.py)
    _css = esm.stylesheet()  # static/tr.css, compact (widgets/esm.py)
    # no echo: the page tells the kernel its step in batches while playing, and an echo of a step the page
    # has since left would pull it back. The cost: a second page (another browser tab) on the same kernel
    # follows steps set from Python, not steps taken in the first page.
    step = t.Int(0).tag(sync=True, echo_update=False)
    n_steps = t.Int(1).tag(sync=True)
    playing = t.Bool(False).tag(sync=True)
    interval = t.Int(500).tag(sync=True)
    description = t.Unicode("step").tag(sync=True)  # the step's name: "t", "query", "tick"
    speeds = t.List().tag(sync=True)
    texts = t.Dict().tag(sync=True)  # the controls' words in the stepper's language (i18n "control." keys)
    frames = t.Bytes(b"").tag(sync=True)
    targets = t.List(t.Unicode()).tag(sync=True)
    frames_mode = t.Bool(False).tag(sync=True)
    clock_id = t.Unicode().tag(sync=True)  # the key of the one JavaScript clock all views share
    caption_target = t.Int(-1).tag(sync=True)  # which of ``targets`` is the caption (announced with the step)

    @t.default("clock_id")
    def _new_clock_id(self):
        return uuid.uuid4().hex  # known before the comm opens, so every view finds the same clock

    def __repr__(self) -> str:
        return f"StepClock({step_range(self.description, self.step, self.n_steps)})"


class StepController(w.VBox):
    """Step buttons, play/pause with a speed, a step slider and selectors shown where they apply.

    Example::

        c = StepController(10, step_name="t", selectors={"layer": ["0", "1"], "batch": ["0"]})
        c.step = 3; c.next(); c.step                 # 4
        c.selection                                  # {'layer': 0, 'batch': 0}; only "layer" is shown
    """

    step = t.Int(0)
    n_steps = t.Int(1)
    selection = t.Dict()

    def __init__(self, n_steps: int, *, step_name: str = "step", selectors: dict | None = None, step: int = 0,
                 interval: int = 500, **kwargs):
        self._ready = self._selecting = False
        speeds = sorted(set(SPEEDS) | {interval}, reverse=True)
        self.clock = StepClock(n_steps=max(n_steps, 1), description=step_name, interval=interval,
                               speeds=[[msg("control.steps_per_s", n=f"{1000 / ms:.3g}"), ms] for ms in speeds],
                               texts=texts("control."))
        self.clock.add_class("tr-step-clock")
        self.caption = CaptionPanel()
        self.caption.add_class("tr-caption")
        self.selectors: dict[str, w.Dropdown] = {}
        shown = []
        for name, options in (selectors or {}).items():
            # the shown name in the stepper's language ("selector.<name>"; a name of the user's own as it is)
            dd = w.Dropdown(options=[(safe_label(o), i) for i, o in enumerate(options)], value=0,
                            description=msg_or(f"selector.{name}", name), layout=w.Layout(width="auto"))
            dd.add_class(f"tr-select-{name}")
            dd.observe(self._on_select, names="value")
            self.selectors[name] = dd
            if len(options) > 1:  # a selector with one choice does not apply: don't show it
                shown.append(dd)
        super().__init__(**kwargs)
        self.n_steps = n_steps
        self.selection = {name: 0 for name in self.selectors}
        self.children = [self.clock, w.HBox(shown + [self.caption])]
        self.add_class("tr-controller")
        t.link((self, "step"), (self.clock, "step"))
        self._ready = True
        self.step = step

    @property
    def interval(self) -> int:
        """Milliseconds between steps while playing (the speed menu sets it too)."""
        return self.clock.interval

    @interval.setter
    def interval(self, ms: int) -> None:
        self.clock.interval = ms

    @property
    def playing(self) -> bool:
        """Whether the browser's clock is playing; setting it starts or stops every view."""
        return self.clock.playing

    @playing.setter
    def playing(self, on: bool) -> None:
        if on and self.step >= self.n_steps - 1 and self.n_steps > 1:
            self.step = 0  # play at the last step starts again from the first
        self.clock.playing = bool(on)

    @t.validate("step")
    def _check_step(self, proposal):
        s = proposal["value"]
        if not 0 <= s < max(self.n_steps, 1):
            fail("step", f"an int in [0, {self.n_steps - 1}]", repr(s),
                 "pick an existing step, or use next()/previous(), which stop at the ends")
        return s

    def next(self) -> int:
        """One step forward, stopping at the last step; returns the new step."""
        self.step = min(self.step + 1, self.n_steps - 1)
        return self.step

    def previous(self) -> int:
        """One step back, stopping at 0; returns the new step."""
        self.step = max(self.step - 1, 0)
        return self.step

    def _on_select(self, change):
        if self._selecting:
            return
        self.selection = {name: dd.value for name, dd in self.selectors.items()}

    def select(self, **choices: int) -> None:
        """Set selectors by index, e.g. ``select(layer=1, head=2)``; unknown names raise."""
        for name, value in choices.items():
            if name not in self.selectors:
                fail(name, f"one of the selectors {sorted(self.selectors)}", repr(name), "pick one of those names")
            n = len(self.selectors[name].options)
            if not (isinstance(value, int) and 0 <= value < n):
                fail(name, f"an int in [0, {n - 1}]", repr(value), f"pick an existing {name}")
        # One update with every choice, so views redraw once (not once per dropdown, mixed).
        self._selecting = True
        try:
            for name, value in choices.items():
                self.selectors[name].value = value
        finally:
            self._selecting = False
        self.selection = {**self.selection, **choices}

    def set_caption(self, text: str, step: int | None = None) -> None:
        """The line under the controls, e.g. "query 5 · 'cat'" (escaped: labels are user text),
        marked as showing ``step`` (default: the current step)."""
        self.caption.show(text, self.step if step is None else step)  # plain data: the page writes it as text

    def describe(self) -> str:
        """The controller's state as text: the step (0-based, with its range), and the selectors that apply.

        Example: ``StepController(10, step_name="t").describe() == "t=0 (0–9)"``
        """
        shown = [f"{n}={self.selection.get(n, 0)}" for n, dd in self.selectors.items() if len(dd.options) > 1]
        return ", ".join([step_range(self.clock.description, self.step, self.n_steps)] + shown)

    def __repr__(self) -> str:
        return f"StepController({self.describe()})"

    def snapshot_html(self) -> str:
        """Static text of the controls' state (a saved notebook cannot press buttons)."""
        return (f"<div class='tr-controller-snapshot' style='font:12px sans-serif;color:{MUTED_CSS}'>"
                f"{html.escape(self.describe())} · {self.caption.value}</div>")

    def _repr_mimebundle_(self, **kwargs):
        data = super()._repr_mimebundle_(**kwargs) or {}
        return {**data, "text/plain": repr(self), "text/html": self.snapshot_html()}
