"""What every panel widget shares: where the JavaScript lives, quiet sync, the snapshot mimebundle,
safe label traits and the palette's colour traits.

The panels themselves live beside this module: ``matrix.py`` (MatrixCanvas), ``bars.py`` (BarsCanvas),
``html.py`` (HTMLPanel).
"""
from __future__ import annotations

import pathlib

import traitlets as t

from ...engine.text import safe_label, safe_labels
from ...views import palette

STATIC = pathlib.Path(__file__).resolve().parent.parent.parent / "static"


class Quiet:
    """A widget whose trait changes can be kept from the browser while ``quiet_sync`` is True.

    With the frames in the browser (``frames.py``), the browser sets the panels itself; Python then
    follows the step with the same values without sending them back (which would race a playing clock).

    Example::

        from tr_widgets.testing.commlog import record_comms
        with record_comms() as log:
            canvas = tr_widgets.widgets.panels.matrix.MatrixCanvas(title="w")   # a Quiet widget
        canvas.quiet_sync = True; log.clear(); canvas.step = 3
        log.total() == 0   # nothing sent to the browser
    """

    quiet_sync = False

    def _should_send_property(self, key, value):
        if self.quiet_sync:
            if self._holding_sync:
                self._states_to_send.discard(key)
            return False
        return super()._should_send_property(key, value)



def safe_text(trait_names):
    """A validator that passes every label and title through ``engine.text.safe_label(s)``.

    Example: ``_safe = safe_text(("title", "row_labels"))  # in a widget class body``
    """
    def check(self, proposal):
        v = proposal["value"]
        return safe_labels(v) if isinstance(v, (list, tuple)) else safe_label(v)
    return t.validate(*trait_names)(check)


class Snapshot:
    """Deterministic repr and a mimebundle with the widget view, text/plain and a text/html snapshot.

    Example::

        canvas = tr_widgets.widgets.panels.matrix.MatrixCanvas(title="w")   # a Snapshot: it defines snapshot_html()
        ("text/html" in canvas._repr_mimebundle_()) == True
        repr(canvas) == repr(tr_widgets.widgets.panels.matrix.MatrixCanvas(title="w"))   # no ids in the repr
    """

    def snapshot_html(self) -> str:  # pragma: no cover - every subclass overrides it
        raise NotImplementedError

    def _repr_mimebundle_(self, **kwargs):
        data = {"text/plain": repr(self), "text/html": self.snapshot_html()}
        if self._view_name is not None and self.comm is not None:
            data["application/vnd.jupyter.widget-view+json"] = {
                "version_major": 2, "version_minor": 1, "model_id": self.model_id}
        return data


def colours_trait():
    """The palette's named colours (data colours: blocked, NaN, bars) as a synced Dict trait.

    Example: ``colours = colours_trait()  # in a widget class body``
    """
    return t.Dict(palette.widget_palette()["colours"]).tag(sync=True)


def theme_trait():
    """The theme colours' CSS variables and light defaults (``palette.THEME``) as a synced Dict trait.

    Example: ``theme = theme_trait()  # in a widget class body``
    """
    return t.Dict({k: list(v) for k, v in palette.THEME.items()}).tag(sync=True)
