"""The Sphinx extensions of the documentation site (docs/site/README.md).

- ``mathml``: a math renderer that writes MathML at build time with latex2mathml, so the tutorials' ``$h_t$``
  show without MathJax (which a page would fetch from a CDN). Chromium, Firefox and Safari draw MathML Core.
- pictures from the web (the README's Binder badges) are written as their alt text, so no page loads them.
- ``tr-public-api``: a directive that writes the API reference from the public surface itself:
  ``tr_widgets.__all__`` and the steppers of ``tr_widgets.widgets.registry.STEPPERS``, so a name added there
  is documented without editing a page.

Example (docs/site/api.rst)::

    .. tr-public-api::
"""
from __future__ import annotations

import html
import inspect

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective
from sphinx.util.parsing import nested_parse_to_nodes


def mathml(latex: str, display: str) -> str:
    """``latex`` as one MathML element; LaTeX that latex2mathml cannot read stays visible as code.

    Example: ``mathml("h_t", "inline")`` starts with ``<math``.
    """
    from latex2mathml.converter import convert

    try:
        return convert(latex, display=display)
    except Exception:  # noqa: BLE001 — a formula the converter lacks should not break the site
        return f'<code class="math-fallback">{html.escape(latex)}</code>'


def _visit_math(self, node) -> None:
    self.body.append(self.starttag(node, "span", "", CLASS="math notranslate"))
    self.body.append(mathml(node.astext(), "inline") + "</span>")
    raise nodes.SkipNode


def _visit_displaymath(self, node) -> None:
    self.body.append(self.starttag(node, "div", "", CLASS="math notranslate"))
    self.body.append(mathml(node.astext(), "block") + "</div>\n")
    raise nodes.SkipNode


def _offline_images(app, doctree) -> None:
    """A picture from the web (the README's Binder badges) becomes its alt text: the site loads nothing remote."""
    for image in list(doctree.findall(nodes.image)):
        if image["uri"].startswith(("http://", "https://", "//")):
            image.replace_self(nodes.inline(text=image.get("alt", "")))


def _directive(obj) -> str:
    """The autodoc directive that documents ``obj``. Example: ``_directive(tr_widgets.show) == "autofunction"``."""
    if inspect.isclass(obj):
        return "autoexception" if issubclass(obj, BaseException) else "autoclass"
    return "autofunction" if callable(obj) else "autodata"


def api_lines() -> list[str]:
    """The reST of the API reference: every public name, then one stepper per trace kind.

    Example: ``".. autofunction:: tr_widgets.show" in api_lines()``
    """
    import tr_widgets
    from tr_widgets.widgets.registry import STEPPERS

    lines = ["Public functions and classes", "----------------------------", ""]
    for name in tr_widgets.__all__:
        if name.startswith("_"):  # __version__ is said in the page's text
            continue
        directive = _directive(getattr(tr_widgets, name))
        lines += [f".. {directive}:: tr_widgets.{name}"]
        lines += ["   :members:", ""] if directive != "autofunction" else [""]
    lines += ["Steppers", "--------", "",
              "``tr_widgets.show(trace)`` picks the stepper for the trace's type; each is a widget and a "
              "self-contained HTML player (``w.save('view.html')``).", ""]
    for trace_type, kind in STEPPERS.items():
        cls = kind.stepper_class()
        lines += [f".. autoclass:: {cls.__module__}.{cls.__qualname__}", "   :members:", "",
                  f"   Shows a ``{trace_type.__name__}``, made by ``{kind.make}``.", ""]
    return lines


class PublicApi(SphinxDirective):
    """``.. tr-public-api::``: the autodoc directives of :func:`api_lines`, parsed in place."""

    def run(self) -> list[nodes.Node]:
        text = StringList(api_lines(), source="tr-public-api")
        return nested_parse_to_nodes(self.state, text, allow_section_headings=True)


def setup(app) -> dict:
    """Register the MathML renderer and the API directive. Example: ``extensions = ["site_ext"]``."""
    app.add_html_math_renderer("mathml", (_visit_math, None), (_visit_displaymath, None))
    app.add_directive("tr-public-api", PublicApi)
    app.connect("doctree-read", _offline_images)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
