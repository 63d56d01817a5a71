"""The one step controller every stepper shares. It knows nothing about LSTMs or attention.

It owns an integer ``step`` and a ``selection`` (name -> index of each generic selector: layer,
direction, head, batch...). Steppers observe those two traits and update their views. Buttons have
stable accessible names ("previous step", "next step", "play") for people using screen readers and
for browser tests. Play runs in the browser (ipywidgets.Play) so animation does not block the kernel.
"""
from __future__ import annotations

import html

import ipywidgets as w
import traitlets as t

from ..engine.errors import fail

SPEEDS = [("1 step/s", 1000), ("2 steps/s", 500), ("5 steps/s", 200), ("10 steps/s", 100), ("20 steps/s", 50)]


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
        # No icons: a Font Awesome glyph becomes part of the button's accessible name ("\uf051 next
        # step"); plain text keeps the names exactly "previous step", "play", "next step".
        self.prev_button = w.Button(description="previous step", tooltip="previous step", layout=w.Layout(width="auto"))
        self.next_button = w.Button(description="next step", tooltip="next step", layout=w.Layout(width="auto"))
        self.play_button = w.ToggleButton(description="play", tooltip="play", layout=w.Layout(width="auto"))
        for b, cls in ((self.prev_button, "tr-prev"), (self.next_button, "tr-next"), (self.play_button, "tr-play")):
            b.add_class(cls)
        self.slider = w.IntSlider(value=0, min=0, max=max(n_steps - 1, 0), description=step_name,
                                  continuous_update=False, layout=w.Layout(width="360px"))
        self.slider.add_class("tr-step-slider")
        # The Play widget runs the clock in the browser; it stays hidden behind our "play" button.
        self.player = w.Play(value=0, min=0, max=max(n_steps - 1, 0), interval=interval,
                             layout=w.Layout(display="none"))
        speeds = SPEEDS if interval in dict(SPEEDS).values() else sorted(
            SPEEDS + [(f"{1000 / interval:.3g} steps/s", interval)], key=lambda s: -s[1])
        self.speed = w.Dropdown(options=speeds, value=interval,
                                description="speed", layout=w.Layout(width="170px"), style={"description_width": "40px"})
        self.caption = w.HTML()
        self.caption.add_class("tr-caption")
        self.selectors: dict[str, w.Dropdown] = {}
        shown = []
        for name, options in (selectors or {}).items():
            dd = w.Dropdown(options=[(str(o), i) for i, o in enumerate(options)], value=0, description=name,
                            layout=w.Layout(width="auto"))
            dd.add_class(f"tr-select-{name}")
            dd.observe(self._on_select, names="value")
            self.selectors[name] = dd
            if len(options) > 1:  # a selector with one choice does not apply: don't show it
                shown.append(dd)
        w.jslink((self.play_button, "value"), (self.player, "playing"))
        w.dlink((self.speed, "value"), (self.player, "interval"))
        super().__init__(**kwargs)
        self.n_steps = n_steps
        self.selection = {name: 0 for name in self.selectors}
        row1 = w.HBox([self.prev_button, self.play_button, self.next_button, self.slider, self.speed, self.player])
        self.children = [row1, w.HBox(shown + [self.caption])]
        self.add_class("tr-controller")
        self.prev_button.on_click(lambda _: self.previous())
        self.next_button.on_click(lambda _: self.next())
        self.play_button.observe(self._on_play, names="value")
        t.link((self, "step"), (self.slider, "value"))
        t.link((self, "step"), (self.player, "value"))
        self._ready = True
        self.step = step
        self._update_buttons()

    @t.validate("step")
    def _check_step(self, proposal):
        s = proposal["value"]
        if not 0 <= s < max(self.n_steps, 1):
            fail("step", f"an int in [0, {self.n_steps - 1}]", repr(s),
                 "pick an existing step, or use next()/previous(), which stop at the ends")
        return s

    @t.observe("step")
    def _on_step(self, change):
        if self._ready:
            self._update_buttons()

    def _update_buttons(self):
        self.prev_button.disabled = self.step <= 0
        self.next_button.disabled = self.step >= self.n_steps - 1

    def next(self) -> int:
        """One step forward, stopping at the last step; returns the new step."""
        self.step = min(self.step + 1, self.n_steps - 1)
        return self.step

    def previous(self) -> int:
        """One step back, stopping at 0; returns the new step."""
        self.step = max(self.step - 1, 0)
        return self.step

    def _on_play(self, change):
        # Pressing play at the last step starts again from the first.
        if change["new"] and self.step >= self.n_steps - 1 and self.n_steps > 1:
            self.step = 0

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

    def set_caption(self, text: str) -> None:
        """The line under the controls, e.g. "query 5 · 'cat'" (escaped: labels are user text)."""
        self.caption.value = (f"<span class='tr-caption-text' data-tr-step='{self.step}' data-step='{self.step}'>"
                              f"{html.escape(text)}</span>")

    def describe(self) -> str:
        """The controller's state as text: step, and the selectors that apply."""
        shown = [f"{n}={self.selection.get(n, 0)}" for n, dd in self.selectors.items() if len(dd.options) > 1]
        return ", ".join([f"{self.slider.description}={self.step} of {self.n_steps}"] + shown)

    def __repr__(self) -> str:
        return f"StepController({self.describe()})"

    def snapshot_html(self) -> str:
        """Static text of the controls' state (a saved notebook cannot press buttons)."""
        return (f"<div class='tr-controller-snapshot' style='font:12px sans-serif;color:#333'>"
                f"{html.escape(self.describe())} · {self.caption.value}</div>")

    def _repr_mimebundle_(self, **kwargs):
        data = super()._repr_mimebundle_(**kwargs) or {}
        return {**data, "text/plain": repr(self), "text/html": self.snapshot_html()}
