"""The HTML panel: our own escaped markup (tables, inline SVG charts, the graph) that frames can drive, and the
Looks it was drawn from (what ``save()`` paints)."""
from __future__ import annotations

from collections import OrderedDict

import ipywidgets as w

from ...views.looks_text import TextRow, text_look
from ...views.looks_html import text_html
from .common import Quiet

LOOKS_KEPT = 512  # values whose Looks a panel remembers (frames may set any recorded step's value)


class HTMLPanel(Quiet, w.HTML):
    """An ipywidgets HTML panel that frames can drive (its ``value`` is our own escaped markup).

    A stepper shows the panel's Looks (``views.looks_text``: text, tables, line charts; ``views.looks_graph``) with
    :meth:`show`; ``save()`` paints the Looks of the value on screen (``looks``) with ``views.svg``, never reading
    the HTML back. Frames set ``value`` alone (a recorded step), so the Looks are kept per value (the last
    ``LOOKS_KEPT``); ``save()`` draws the current step again first, so it never depends on what is kept.

    Example: ``p = HTMLPanel(value="<b>o_i</b>"); p.looks == ()``
    """

    def show(self, value: str, looks) -> None:
        """Show ``value``, drawn from ``looks``: a tuple, or a function that gives it, called only when ``looks``
        is read (``save()``; a table written by its own HTML painter need not build its Looks every frame).

        Example: ``p.show("<b>o_i</b>", (text_look(["o_i"]),)); p.show("<i>x</i>", lambda: (text_look(["x"]),))``
        """
        kept = self.__dict__.setdefault("_looks_of", OrderedDict())
        kept[value] = looks if callable(looks) else tuple(looks)
        kept.move_to_end(value)
        while len(kept) > LOOKS_KEPT:
            kept.popitem(last=False)
        self.value = value

    @property
    def looks(self) -> tuple:
        """The Looks of the value on screen, or () when it was not shown from Looks."""
        kept = self.__dict__.get("_looks_of", {})
        looks = kept.get(self.value, ())
        if callable(looks):
            looks = kept[self.value] = tuple(looks())
        return looks

    @classmethod
    def notice(cls, words: str, colour: str = "fg-muted", bold: bool = False) -> "HTMLPanel":
        """A panel of one line of text (a notice): its Look, a row in ``colour`` (a palette name), written as HTML.

        Example: ``HTMLPanel.notice("no SDPA ran", "bad", True).looks[0].rows[0].colour == "bad"``
        """
        panel = cls()
        look = text_look([TextRow(words, bold, colour)])
        panel.show(f"<div class='tr-panel tr-notice'>{text_html(look)}</div>", (look,))
        return panel
