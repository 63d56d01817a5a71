"""What every stepper shares: the controller, option checks, progress bars, repr and snapshots.

A stepper is a VBox: the :class:`StepController` on top, then its panels. It observes the
controller's ``step`` and ``selection`` and updates its panels' traits in place, so a click updates
every view without re-running the cell, and only the traits that changed travel to the browser.
"""
from __future__ import annotations

import html
from collections import OrderedDict

import ipywidgets as w

from ..engine.errors import describe, fail
from ..i18n import LANGUAGES, get_language, language
from ..views.matrix import OVERVIEW, WINDOW
from ..views.palette import standalone
from . import frames
from .controller import StepController
from .save import save_view
from .frontend import set_widget_view, widget_frontend  # noqa: F401  (re-exported)
from .stream import FrameStreaming


def int_in(lo: int, hi: int):
    """(check, expected) for an option that takes an int in [lo, hi].

    Example: ``check, expected = int_in(1, 16); (check(3), check(True), expected) == (True, False, "an int in [1, 16]")``
    """
    return (lambda v: isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi, f"an int in [{lo}, {hi}]")


def is_bool(v) -> bool:
    """Whether an option's value is a bool (not 0 or 1). Example: ``(is_bool(True), is_bool(1)) == (True, False)``"""
    return isinstance(v, bool)


# name -> (check, expected, example, default): each option's one definition.
COMMON_OPTIONS = {
    "step": (lambda v: isinstance(v, int) and not isinstance(v, bool), "an int (the first step shown)", "step=0", 0),
    "progress": (is_bool, "True or False", "progress=False", True),
    "interval": (*int_in(20, 10_000), "interval=500 (ms between steps while playing)", 500),
    "window": (*int_in(8, 256), f"window={WINDOW} (cells per side of the matrix window)", WINDOW),
    "overview_px": (*int_in(16, 256), f"overview_px={OVERVIEW}", OVERVIEW),
    "lang": (lambda v: v is None or v in LANGUAGES, f"None (the language set_language chose) or one of {list(LANGUAGES)}",
             'lang="zh"', None),
    "frames": (lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool) and v >= 0),
               "None (the frame budget, see set_frame_budget) or a budget in bytes (0: never all frames)",
               "frames=8 * 1024**2", None),
}


def bars_options(units: str, default_units: int = 3, bars: str = "units per bar chart") -> dict:
    """The options of a stepper that writes some units' numbers and draws bar charts (each one's definition).

    Example: ``bars_options("units the table shows")["units"][3] == 3``
    """
    return {"units": (*int_in(1, 16), f"units={default_units} ({units})", default_units),
            "max_bars": (*int_in(4, 512), f"max_bars=128 ({bars})", 128)}


def equations_options(units: str, **more) -> dict:
    """The options of a stepper over a recurrent trace's units with an equations table: the common ones, units and
    bars, ``more``, and ``equations`` (the table open from the start).

    Example: ``list(equations_options("units shown", graph_nodes=None))[-2:] == ["graph_nodes", "equations"]``
    """
    return {**COMMON_OPTIONS, **bars_options(units), **more, "equations": open_option("equations", "the equations table")}


def open_option(name: str, what: str) -> tuple:
    """An option that opens a folded panel from the start. Example: ``open_option("equations", "the table")[3] is False``"""
    return (is_bool, "True or False", f"{name}=True ({what} open from the start)", False)


def check_options(owner: str, spec: dict, options: dict, selectors: dict) -> dict:
    """Validate keyword options once, at the public boundary; selector names take an index.

    Example::

        check_options("show", COMMON_OPTIONS, {"progress": False, "head": 1}, {"head": ["h0", "h1"]}) == {
            "progress": False, "head": 1}
        # check_options("show", COMMON_OPTIONS, {"progress": "no"}, {}) raises TraceInputError:
        # show(progress=...): expected True or False, got str 'no'. Fix: pass progress=False
    """
    out = {}
    for name, value in options.items():
        if name in selectors:
            n = len(selectors[name])
            if not (isinstance(value, int) and not isinstance(value, bool) and 0 <= value < n):
                fail(f"{owner}({name}=...)", f"an int in [0, {n - 1}] (the {name} to show first)", describe(value),
                     f"pass {name}=0")
        elif name in spec:
            ok, expected, example, _ = spec[name]
            if not ok(value):
                fail(f"{owner}({name}=...)", expected, describe(value), f"pass {example}")
        else:
            known = sorted(set(spec) | set(selectors))
            fail(f"{owner}({name}=...)", f"one of the options {known}", f"unknown option {name!r}",
                 "remove it or use one of those names")
        out[name] = value
    return out


def tqdm_progress(enabled: bool):
    """A ``progress(iterable, total=, desc=)`` wrapper using ``tqdm.auto`` (None when disabled).

    Example: ``tqdm_progress(False) is None``
    """
    if not enabled:
        return None
    from tqdm.auto import tqdm

    def wrap(iterable, total=None, desc=None):
        return tqdm(iterable, total=total, desc=desc, leave=False)
    return wrap


class Stepper(FrameStreaming, w.VBox):
    """Base class: a controller plus panels that follow its step and selection.

    Subclasses set ``OPTIONS``, build ``self.panels`` in ``_build()`` (reading ``self.options``, every
    option with its default filled in) and redraw in ``_update(new_selection)``. The step lives in the
    controller alone; ``step`` reads and sets it.

    Example::

        s = tr_widgets.show(tr)            # a RecurrentStepper, one of the Stepper subclasses
        s.step = 3; s.controller.step == 3   # the step lives in the controller
    """

    OPTIONS: dict = COMMON_OPTIONS
    # the view's selectors of a trace: trace -> [(name, labels)], e.g. staticmethod(views.recurrent_axes)
    AXES = None

    def __init__(self, trace, **options):
        self.trace = trace
        axes = self._axes()
        opts = check_options(type(self).__name__, self.OPTIONS, options, dict(axes))
        self.options = {name: opts.get(name, spec[3]) for name, spec in self.OPTIONS.items()}
        self.progress = self.options["progress"]
        self.lang = self.options["lang"] or get_language()  # kept: a stepper speaks one language
        with language(self.lang):
            self.controller = StepController(self._n_steps(), step_name=self._step_name(), selectors=dict(axes),
                                             interval=self.options["interval"])
            self.panels: list[w.Widget] = []
            self._build()
        super().__init__(children=[self.controller, *self.panels])
        self.add_class("tr-stepper")
        self.add_class(f"tr-{type(self).__name__.lower()}")
        choices = {name: opts[name] for name, _ in axes if name in opts}
        if choices:
            self.controller.select(**choices)
        self.controller.step = self.options["step"]  # validated there, once
        self._targets, self._layout = frames.collect(self, self.controller)
        self.controller.clock.caption_target = next(i for i, tw in enumerate(self._targets) if tw is self.controller.caption)
        self._budget = self.options["frames"] if self.options["frames"] is not None else frames.get_frame_budget()
        self._gen, self._mode, self._payload, self._have = 0, "kernel", None, set()
        self._base, self._known, self._recorded, self._views = set(), set(), OrderedDict(), 0
        self._draw(self.step, new_selection=True)
        self._make_frames()
        self.controller.observe(self._on_step, names="step")
        self.controller.observe(self._on_selection, names="selection")
        self.controller.clock.on_msg(self._on_clock_msg)
        self.controller.clock.observe(self._on_playing, names="playing")

    @property
    def step(self) -> int:
        """The current step; setting it moves every view (out of range: a TraceInputError)."""
        return self.controller.step

    @step.setter
    def step(self, value: int) -> None:
        if not isinstance(value, int) or isinstance(value, bool):  # before traitlets' own TraitError
            fail("step", f"an int in [0, {self.controller.n_steps - 1}]", describe(value),
                 "pass an int, e.g. w.step = 0")
        self.controller.step = value

    # -- what subclasses provide -------------------------------------------------------------
    def _axes(self) -> list[tuple[str, list[str]]]:
        return self.AXES(self.trace) if self.AXES else []

    def _n_steps(self) -> int:
        return len(self.trace)

    def _step_name(self) -> str:
        return "t"

    def _build(self) -> None:
        raise NotImplementedError

    def _update(self, step: int, new_selection: bool) -> None:
        """Draw ``step`` into the panels (``new_selection``: the selectors changed first)."""
        raise NotImplementedError

    def _on_views(self, n: int) -> None:
        """``n`` views of the stepper are shown in pages now (each says when it comes and goes; a page closed
        without a word keeps its count): a stepper that fills a view in on the kernel's loop stops at 0."""

    # -- shared behaviour --------------------------------------------------------------------
    def _draw(self, step: int, new_selection: bool) -> None:
        """``_update`` in the stepper's own language (``i18n.msg`` reads it while drawing)."""
        with language(self.lang):
            self._update(step, new_selection)

    def _on_step(self, change):
        s = change["new"]
        if self._mode == "chunks":
            self._prefetch(s)
        self.follow(s)  # quietly: the browser applies the frame itself

    def _on_selection(self, change):
        self._quiet(True)
        try:
            self._draw(self.step, new_selection=True)
        finally:
            self._quiet(False)
        self._make_frames()

    @property
    def selection(self) -> dict:
        """The current selectors as name -> index (layer, direction, batch, head...)."""
        return dict(self.controller.selection)

    def select(self, **choices: int) -> None:
        """Change selectors by index, e.g. ``select(head=2)``; every view follows."""
        self.controller.select(**choices)

    def next(self) -> int:
        """One step forward (stops at the last step)."""
        return self.controller.next()

    def previous(self) -> int:
        """One step back (stops at 0)."""
        return self.controller.previous()

    def save(self, path, scale: float = 1.0):
        """Write the current view (same step, selection and numbers as on screen) as a picture; returns the path.

        ".svg": one vector file (the controls' state line, then the panels as laid out on screen);
        ".png": that SVG rasterised at ``scale`` (needs ``pip install vl-convert-python``). Works offline.
        ".html": the stepper itself, one page that steps, plays and scrubs offline in any browser (widgets/page.py).

        Example::

            w = tr_widgets.show(trace); w.step = 3
            w.save("attention.png")          # PathLike of the file written
            w.save("attention.svg")
            w.save("attention.html")         # share the stepper: slides, a course page, an email
        """
        with language(self.lang):  # the words of the picture in the stepper's own language
            return save_view(self, path, scale=scale)

    def _trace_repr(self) -> str:
        return repr(self.trace)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._trace_repr()}, {self.controller.describe()})"

    def snapshot_html(self) -> str:
        """A static picture of the current view (for notebooks read without a kernel)."""
        with language(self.lang):  # words a snapshot writes itself, in the stepper's own language
            parts = [self.controller.snapshot_html()] + [_panel_html(p) for p in self.panels]
        title = html.escape(f"{type(self).__name__}: {self._trace_repr()}")
        return standalone(f"<div class='tr-snapshot' data-tr-step='{self.step}' style='font:12px sans-serif'>"
                          f"<div style='font-weight:600'>{title}</div>{''.join(parts)}</div>")

    def _repr_mimebundle_(self, **kwargs):
        data = super()._repr_mimebundle_(**kwargs) or {}
        if not widget_frontend():
            data.pop("application/vnd.jupyter.widget-view+json", None)
        return {**data, "text/plain": repr(self), "text/html": self.export_html()}


def _panel_html(p) -> str:
    if hasattr(p, "snapshot_html"):
        return p.snapshot_html()
    if isinstance(p, w.HTML):
        return p.value
    if isinstance(p, w.Box):
        inner = "".join(_panel_html(c) for c in p.children)
        return f"<div style='display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start'>{inner}</div>"
    return ""
