"""The HTML panel: our own escaped markup (tables, inline SVG charts) that frames can drive."""
from __future__ import annotations

import ipywidgets as w

from .common import Quiet


class HTMLPanel(Quiet, w.HTML):
    """An ipywidgets HTML panel that frames can drive (its ``value`` is our own escaped markup).

    ``looks``: the panel's Looks (``views.looks_text``: text, tables, line charts), set with its ``value``, which
    ``save()`` paints with ``views.svg`` instead of reading the HTML back; empty until a stepper sets them.

    Example: ``p = HTMLPanel(value="<b>o_i</b>")``
    """

    looks: tuple = ()
