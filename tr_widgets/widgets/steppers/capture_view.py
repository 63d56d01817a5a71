"""CaptureView: what ``capture(model)`` recorded, one dropdown of module names above the chosen stepper.

``show(rec)`` returns it (``registry.STEPPERS``); the magic uses
it when a model ran several supported modules. Steppers are built when first chosen.
"""
from __future__ import annotations

import html

import ipywidgets as w

from ...engine.capture import SUPPORTED, Capture
from ...engine.errors import fail
from ...i18n import language, msg
from ..frontend import widget_frontend
from ..registry import show


class CaptureView(w.VBox):
    """Several recorded traces: a dropdown of their names above the stepper of the chosen one.

    Example::

        with tr_widgets.capture(lstm) as rec:
            lstm(x)
        view = CaptureView(rec.traces)         # what tr_widgets.show(rec) gives when rec holds several
        view.choose(rec.traces[0][0]); view.stepper.step = 3
        view.stepper.step == 3
    """

    def __init__(self, traces, **options):
        self.traces = list(traces.traces if isinstance(traces, Capture) else traces)
        if not self.traces:
            fail("traces", f"at least one recorded trace (supported: {SUPPORTED})", "nothing recorded",
                 "run the model inside `with tr_widgets.capture(model) as rec:`")
        self._options = options
        names = [n for n, _ in self.traces]
        with language(options.get("lang")):  # the chooser's name in the language of the steppers below it
            self.chooser = w.Dropdown(options=names, value=names[0], description=msg("capture.module"),
                                      layout=w.Layout(width="auto"))
        self.chooser.add_class("tr-capture-chooser")
        self._steppers: dict = {}
        self.stepper = self._stepper(names[0])
        super().__init__(children=[self.chooser, self.stepper])
        self.add_class("tr-capture-view")
        self.chooser.observe(self._on_choose, names="value")

    def _stepper(self, name: str):
        if name not in self._steppers:
            self._steppers[name] = show(dict(self.traces)[name], **self._options)
        return self._steppers[name]

    def _on_choose(self, change) -> None:
        self.stepper = self._stepper(change["new"])
        self.children = [self.chooser, self.stepper]

    def choose(self, name: str) -> None:
        """Show the stepper of ``name`` (one of ``self.chooser.options``)."""
        if name not in self.chooser.options:
            fail("name", f"one of {list(self.chooser.options)}", repr(name), "pick a recorded module name")
        self.chooser.value = name

    def __repr__(self) -> str:
        return f"CaptureView({len(self.traces)} traces, showing {self.chooser.value!r}: {self.stepper!r})"

    def _recorded(self) -> str:
        names = " · ".join(f"<b>{html.escape(n)}</b>" if n == self.chooser.value else html.escape(n)
                           for n in self.chooser.options)
        with language(getattr(self.stepper, "lang", None)):
            return f"<div>{msg('capture.recorded', names=names)}</div>"

    def snapshot_html(self) -> str:
        """The recorded names (the chosen one in bold) above the chosen stepper's static view."""
        return f"<div class='tr-snapshot tr-capture-view'>{self._recorded()}{self.stepper.snapshot_html()}</div>"

    def export_html(self) -> str:
        """The recorded names above the chosen stepper's page: it steps without a kernel (saved and exported
        notebooks), as a stepper shown alone does."""
        return f"<div class='tr-capture-view'>{self._recorded()}{self.stepper.export_html()}</div>"

    def _repr_mimebundle_(self, **kwargs):
        data = super()._repr_mimebundle_(**kwargs) or {}
        if not widget_frontend():  # as a stepper shown alone: no widget view where no front end draws it
            data.pop("application/vnd.jupyter.widget-view+json", None)
        return {**data, "text/plain": repr(self), "text/html": self.export_html()}

