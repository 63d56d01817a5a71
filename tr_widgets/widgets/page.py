"""One stepper as one file: ``w.save("view.html")`` writes a page that steps, plays and scrubs offline.

The page is the stepper's own exported output (``export_html``: the snapshot, its frames and the player's JS,
imported from ``data:`` URLs) inside a minimal HTML document, so it runs the same JS as a notebook exported by
nbconvert, Sphinx or mkdocs, needs no kernel, no server and no network (open it from file://, attach it to an
email, upload it to a learning platform). A stepper over the frame budget gives its static picture with the
notice that says so and how to make it fit (a shorter trace, ``show(..., window=...)``, a larger budget).
"""
from __future__ import annotations

import html
import pathlib

from ..i18n import get_language

# the page's own margin and font only: the stepper's look comes from tr.css, embedded by export_html
_BODY = "margin:16px;font:13px sans-serif;background:#fff;color:#1a1a1a"


def page_html(stepper) -> str:
    """The whole page of ``stepper``: one self-contained HTML document (UTF-8, no external resource).

    Example::

        page = page_html(tr_widgets.show(at))
        (page.startswith("<!DOCTYPE html>"), "tr-export" in page, "src=\\"http" in page) == (True, True, False)
    """
    title = html.escape(f"{type(stepper).__name__} · tr_widgets")
    lang = html.escape(getattr(stepper, "lang", None) or get_language())
    return ("<!DOCTYPE html>\n"
            f"<html lang='{lang}'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<meta name='generator' content='tr_widgets'><title>{title}</title></head>"
            f"<body style='{_BODY}'>\n{stepper.export_html()}\n</body></html>\n")


def save_page(stepper, path: pathlib.Path) -> pathlib.Path:
    """Write :func:`page_html` of ``stepper`` to ``path`` (what ``w.save("view.html")`` does); returns the path.

    Example::

        w = tr_widgets.show(at); w.step = 2
        save_page(w, pathlib.Path("view.html")).read_text(encoding="utf-8").count("tr-export") >= 1
    """
    from ..engine.errors import fail

    p = pathlib.Path(path)
    try:
        p.write_text(page_html(stepper), encoding="utf-8")
    except OSError as err:
        fail("save(path)", "a file path that can be written", f"{str(path)!r} ({type(err).__name__}: {err})",
             "pick a folder that exists and that you may write to")
    return p
