"""The caption: the one line under a stepper's controls ("query 5 (0–11) “cat” · head 0"), as plain data.

The frame carries the line as ``parts``, plain text and token labels alternating (``["query 5 · “", "cat", "”"]``),
and the step it describes; ``static/player/caption.js`` writes them into the page as text (the labels in their
own bidi-isolated span), and the controls read the labels from the same parts for a screen reader: nothing
parses our markup back. ``value`` is the same line as HTML, for the static snapshot; ``looks`` its Look, for
``save()``.
"""
from __future__ import annotations

import html
import re

import anywidget
import traitlets as t

from ...engine.text import safe_label
from ...views.looks_text import text_look
from .. import esm
from .common import Quiet

ISOLATE = "unicode-bidi:isolate"  # a label's direction never reorders its neighbours


def caption_parts(words: str) -> list[str]:
    """The line ``words`` as plain text and the “quoted” labels in it, alternating (a label keeps its quotes
    outside it, in the plain text around it).

    Example: ``caption_parts("query 5 “cat” · head 0") == ["query 5 “", "cat", "” · head 0"]``
    """
    return re.split("(?<=“)([^”]*)(?=”)", safe_label(words))


class CaptionPanel(Quiet, anywidget.AnyWidget):
    """The caption under the controls, set with :meth:`show`; frames set its ``parts`` and ``step``.

    Example::

        c = CaptionPanel(); c.show("query 5 “cat”", 5)
        (c.parts, c.step) == (["query 5 “", "cat", "”"], 5)
        "<span class='tr-tok'" in c.value and c.looks[0].rows[0].text == "query 5 “cat”"
    """

    _esm = esm.module("caption")  # static/caption.js with what it imports (widgets/esm.py)
    # no _css: the caption lives in the controller, whose StepClock brings tr.css (a copy here cost 10 KiB an open)
    parts = t.List(t.Unicode()).tag(sync=True)  # plain text, a label, plain text, ...
    step = t.Int(0).tag(sync=True)  # the step the line describes (data-step in the page: drawn)

    def show(self, words: str, step: int) -> None:
        """Show the line ``words`` (user labels “quoted” in it), describing ``step``."""
        with self.hold_sync():
            self.parts, self.step = caption_parts(words), step

    @property
    def value(self) -> str:
        """The line as our HTML (the static snapshot's): the labels in bidi-isolated spans, all escaped."""
        spans = "".join(f"<span class='tr-tok' style='{ISOLATE}'>{html.escape(p)}</span>" if i % 2 else html.escape(p)
                        for i, p in enumerate(self.parts))
        return f"<span class='tr-caption-text' data-tr-step='{self.step}' data-step='{self.step}'>{spans}</span>"

    @property
    def looks(self) -> tuple:
        """The line's Look (what ``save()`` paints)."""
        return (text_look(["".join(self.parts)]),)

    def __repr__(self) -> str:
        return f"CaptionPanel({''.join(self.parts)!r})"
