"""The HTML panel: our own escaped markup (tables, inline SVG charts) that frames can drive."""
from __future__ import annotations

from collections import OrderedDict

import ipywidgets as w

from .common import Quiet

LOOKS_KEPT = 512  # values whose Looks a panel remembers (frames may set any recorded step's value); older: read back


class HTMLPanel(Quiet, w.HTML):
    """An ipywidgets HTML panel that frames can drive (its ``value`` is our own escaped markup).

    A stepper that has the panel's Looks (``views.looks_text``: text, tables, line charts) shows them with
    :meth:`show`; ``save()`` then paints the Looks of the value on screen (``looks``) with ``views.svg`` instead
    of reading the HTML back. Frames set ``value`` alone (a recorded step), so the Looks are kept per value.

    Example: ``p = HTMLPanel(value="<b>o_i</b>"); p.looks == ()``
    """

    def show(self, value: str, looks: tuple) -> None:
        """Show ``value``, drawn from ``looks``. Example: ``p.show("<b>o_i</b>", (text_look(["o_i"]),))``"""
        kept = self.__dict__.setdefault("_looks_of", OrderedDict())
        kept[value] = tuple(looks)
        kept.move_to_end(value)
        while len(kept) > LOOKS_KEPT:
            kept.popitem(last=False)
        self.value = value

    @property
    def looks(self) -> tuple:
        """The Looks of the value on screen, or () when it was not shown from Looks."""
        return self.__dict__.get("_looks_of", {}).get(self.value, ())
