"""All the HTML the widgets write: the live panels (ipywidgets.HTML) and the static snapshots.

Every string that can hold user text (token labels, names) goes through ``html.escape``. Every word
shown is ``i18n.msg`` (the drawing stepper's language; ``counted`` puts a noun in the right number). Styles are
inline so a snapshot in an exported notebook looks the same without our CSS; colours come from
``views.palette``. Numbers are formatted with fixed precision (``views.recurrent.fmt``), so the same
trace and step give the same bytes. Whether a check passed is decided in the views; here it is drawn.
"""
from __future__ import annotations

import html
import re
from types import SimpleNamespace


from ..engine.text import safe_label
from ..i18n import msg
from ..views.looks_graph import graph_look
from ..views.looks_html import table_html, text_html
from ..views.palette import COLOURS, THEME, theme_var
from ..views.recurrent import fmt
from ..views.svg import graph_svg


def escaped(s) -> str:
    """User text as HTML: made safe (``engine.text.safe_label``: no lone surrogates, no bidi or control
    characters) and escaped.

    Example: ``escaped("<s>") == "&lt;s&gt;"``
    """
    return html.escape(safe_label(s))


ISO = "unicode-bidi:isolate"  # a label's direction never reorders its neighbours
# THEME_VARS.bg_alt: the theme's CSS value, short (tr.css resolves it): these panels are redrawn every step, and a
# static snapshot writes the full chains back (palette.standalone)
THEME_VARS = SimpleNamespace(**{k.replace("-", "_"): theme_var(k) for k in THEME})
TABLE = f"border-collapse:collapse;font:12px monospace;color:{THEME_VARS.fg}"
TD = f"border:1px solid {THEME_VARS.border};padding:1px 5px;text-align:left;white-space:nowrap"
TH = TD + f";background:{THEME_VARS.bg_alt};color:{THEME_VARS.fg}"
MUTED = f"color:{THEME_VARS.fg_muted};font-size:11px;line-height:1.35"
# ipywidgets' HTML sets its content's line-height to a widget row (28 px): our panels set their own
PANEL = f"line-height:1.35;color:{THEME_VARS.fg}"
SCROLL = "max-width:100%;overflow-x:auto;line-height:1.35"  # a wide table scrolls inside its own box, never past the cell


def counted(key: str, n: int) -> str:
    """The message ``key.one`` (n == 1) or ``key.many`` (otherwise), its ``{n}`` filled.

    Example: ``counted("count.step", 1) == "1 step"; counted("count.step", 3) == "3 steps"`` in English.
    """
    return msg(f"{key}.{'one' if n == 1 else 'many'}", n=n)


def index_of(i: int, n: int) -> str:
    """A 0-based index with its range (the one counting convention). Example: ``index_of(3, 5) == "3 (0–4)"``"""
    return f"{i} (0–{max(n, 1) - 1})"


def scroll_box(inner: str, cls: str = "") -> str:
    """``inner`` in a box that scrolls sideways when it is wider than the cell.

    Example: ``scroll_box("<table>…</table>", "tr-equations")``
    """
    return f"<div class='tr-scroll {cls}' style='{SCROLL}'>{inner}</div>"


def hex_colour(name: str) -> str:
    """A palette colour as ``#rrggbb``. Example: ``hex_colour("mark") == "#ff2828"``"""
    return "#%02x%02x%02x" % COLOURS[name]


HEX_COLOURS = SimpleNamespace(**{name: hex_colour(name) for name in COLOURS})  # HEX_COLOURS.mark == "#ff2828"


def text_block(s: str, style: str = MUTED) -> str:
    """Escaped text in a div (notices, axis summaries), in the theme's muted text colour.

    Example: ``text_block("a < b").endswith(">a &lt; b</div>")``
    """
    return f"<div style='{style}'>{escaped(s)}</div>"


def latex_to_html(latex: str) -> str:
    """torch's LaTeX equations as plain HTML: σ, tanh, ⊙, subscripts (input is our own constants).

    Example: ``"σ" in latex_to_html(tr.spec.equations[0].latex)  # i_t = σ(W_ii x_t + …)``
    """
    s = escaped(latex)
    for a, b in ((r"\sigma", "σ"), (r"\tanh", "tanh"), (r"\odot", "⊙"), (r"\mathrm{ReLU}", "ReLU")):
        s = s.replace(a, b)
    s = re.sub(r"_\{([^}]*)\}", r"<sub>\1</sub>", s)
    return re.sub(r"_([A-Za-z0-9])", r"<sub>\1</sub>", s)


def equations_table(sv, caption: str) -> str:
    """One row per equation: the equation, then its arithmetic for each shown unit (scrolls when wide).

    Example::

        sv = views.recurrent.step_view(tr, 2)
        equations_table(sv, "t = 2").count("<tr>") == 1 + len(sv.equations)   # a header, a row per equation
    """
    head = "".join(f"<th style='{TH}'>{escaped(msg('equations.unit', j=j))}</th>" for j in sv.units)
    rows = [f"<tr><th style='{TH};text-align:left'>{escaped(msg('equations.equation'))}</th>{head}</tr>"]
    for eq in sv.equations:
        cells = "".join(f"<td style='{TD}'>{escaped(c)}</td>" for c in eq.cells)
        rows.append(f"<tr><td style='{TD};text-align:left'>{latex_to_html(eq.latex)}</td>{cells}</tr>")
    return (f"<div class='tr-panel tr-equations' style='{SCROLL}'>"
            f"<div style='font-weight:600'>{escaped(caption)}</div><table style='{TABLE}'>{''.join(rows)}</table></div>")


def graph_panel(g, state: str) -> tuple[str, tuple]:
    """The unrolled computation graph panel of graph window ``g``: its HTML (the caption, then the graph's inline SVG
    in the theme's colours) and its Looks (``views.looks_graph``), both from the one Look and painter.

    Example::

        g = views.graph_window(views.hidden_matrix(tr), 3)     # steps 0..3 computed so far
        html, (caption, look) = graph_panel(g, "h")
        html.count("<rect") == len(g.steps)                    # one box per h_τ
    """
    caption, look = graph_look(g, safe_label(state))
    return (f"<div class='tr-panel tr-graph' style='{SCROLL}'>{text_html(caption)}"
            f"{graph_svg(look, paint=theme_var)}</div>"), (caption, look)


def attention_output(rv, klabels, S: int) -> str:
    """The o_i panel: the largest weights' terms, the rest summed, o_i beside torch's SDPA row, checks; written
    from its Looks (``panel_looks.output_looks``), so the screen and ``save()`` show one layout.

    Example::

        rv = views.row_view(at, 3, (0, 0), (0, at.S))          # query 3, batch 0, head 0, every key
        attention_output(rv, None, at.S).count("✓") == 2       # weights sum to 1; o_3 matches torch's SDPA
    """
    from .panel_looks import output_looks  # its Looks (panel_looks reads this module)
    title, table, checks = output_looks(rv, klabels, S)
    return (f"<div class='tr-panel tr-output-panel' data-tr-step='{rv.i}' style='{SCROLL}'>"
            f"{text_html(title)}{table_html(table)}{text_html(checks)}</div>")


# The new token: the highlight colour (orange) as a border over a translucent wash, text in the theme's
# own colour, so it reads in light and dark themes alike.
NEW = (f"background:rgba(224,138,0,0.22);border:1px solid {THEME_VARS.highlight};border-radius:3px;padding:0 3px;"
       f"font-weight:600;color:{THEME_VARS.fg};{ISO}")
MADE = f"color:{THEME_VARS.fg};{ISO}"
PROMPT = f"color:{THEME_VARS.fg_muted};{ISO}"


def decode_text(t: int, parts, tick, mode: str, n_ticks: int | None = None) -> str:
    """The text so far with the new token highlighted, and the model's candidates with their p.

    Example::

        tick = dt.ticks[1]                                     # dt: decode(model, "The cat sat on the", 3)
        html = decode_text(1, (["The", "cat"], ["sat"], tick.token, 0), tick, "greedy")
        (html.count("tr-new-token"), html.count("<tr>")) == (1, 1 + len(tick.topk_tokens))
    """
    prompt, made, new, cut = parts
    words = ([f"<span style='{PROMPT}'>{escaped(s)}</span>" for s in prompt]
             + [f"<span style='{MADE}'>{escaped(s)}</span>" for s in made]
             + [f"<span class='tr-new-token' style='{NEW}'>{escaped(new)}</span>"])
    lead = f"<span style='{MUTED}'>{escaped(counted('decode.earlier_tokens', cut))}</span> " if cut else ""
    rows = [f"<tr><th style='{TH}'>{escaped(msg('decode.candidate'))}</th><th style='{TH}'>p</th><th style='{TH}'></th></tr>"]
    for tok, p in zip(tick.topk_tokens, tick.topk_probs):
        bar = (f"<div style='width:{max(1, round(120 * p))}px;height:8px;"
               f"background:{THEME_VARS.highlight if tok == tick.token else THEME_VARS.border}'></div>")
        rows.append(f"<tr><td style='{TD};{ISO}'>{escaped(tok)}</td><td style='{TD}'>{p:.3f}</td><td style='{TD}'>{bar}</td></tr>")
    tick_no = index_of(t, n_ticks) if n_ticks else str(t)
    return (f"<div class='tr-panel tr-decode-text' data-tr-step='{t}' style='display:flex;gap:16px;flex-wrap:wrap;"
            f"{PANEL}'><div style='max-width:520px;min-width:0;overflow-wrap:anywhere'><div style='font-weight:600'>"
            f"{escaped(msg('decode.text_title', tick=tick_no, last=tick.query_position))}</div>"
            f"<div style='font:14px serif;line-height:1.6'>{lead}{' '.join(words)}</div></div>"
            f"<div style='{SCROLL}'><div style='{MUTED}'>{escaped(mode)}</div>"
            f"<table style='{TABLE}'>{''.join(rows)}</table></div></div>")


KEY_KINDS = {"appended": "decode.kind_appended", "reused": "decode.kind_reused", "recomputed": "decode.kind_recomputed"}


def decode_strip(tv, use_cache: bool, newest: int) -> str:
    """The newest ``newest`` positions as boxes: token, weight (a translucent wash of the sequential
    map's blue over the theme's background, so the theme's text stays readable), reused or appended.

    Example::

        tv = views.decode.tick_view(dt, 1)                     # tick 1, layer 0, head 0
        decode_strip(tv, dt.use_cache, newest=4).count("class='tr-key ") == min(4, len(tv.labels))
    """
    n = len(tv.labels)
    a = max(0, n - newest)
    top = float(tv.weights.max()) if n else 1.0
    cells = []
    for j in range(a, n):
        pos, wt = tv.window.c0 + j, float(tv.weights[j])
        alpha = round(0.6 * (wt / top if top > 0 else 0), 3)
        new = not tv.reused[j] and (use_cache or pos == tv.query_position)
        edge = f"2px solid {THEME_VARS.highlight}" if new else f"1px solid {THEME_VARS.border}"
        kind = "appended" if new else ("reused" if tv.reused[j] else "recomputed")
        title = escaped(msg("decode.key_title", pos=pos, kind=msg(KEY_KINDS[kind])))
        cells.append(f"<div class='tr-key tr-key-{kind}' title='{title}' style='border:{edge};"
                     f"background:rgba(59,82,139,{alpha});color:{THEME_VARS.fg};padding:1px 4px;text-align:center;"
                     f"min-width:28px'><div style='font:12px monospace;{ISO}'>{escaped(tv.labels[j])}</div>"
                     f"<div style='font:10px monospace'>{pos} · {wt:.2f}</div></div>")
    earlier = tv.window.c0 + a
    more = f"<div style='{MUTED};align-self:center'>{escaped(msg('decode.strip_earlier', n=earlier))}</div>" if earlier else ""
    legend = (msg("decode.strip_legend", head=tv.head) if use_cache else msg("decode.strip_legend_no_cache", head=tv.head))
    return (f"<div class='tr-panel tr-decode-strip' data-tr-step='{tv.tick}' style='{PANEL}'>{text_block(legend)}"
            f"<div style='display:flex;flex-wrap:wrap;gap:3px'>{more}{''.join(cells)}</div></div>")


def notes_html(notes) -> str:
    """What a reader must know before trusting the numbers below (e.g. dropout not replayed), as a notice: its
    Look (``panel_looks.notes_looks``) written as HTML.

    Example: ``"• dropout is not replayed" in notes_html(["dropout is not replayed"])``
    """
    from .panel_looks import notes_looks  # its Look (panel_looks reads this module)
    return f"<div class='tr-panel tr-notes' role='note'>{text_html(notes_looks(notes)[0])}</div>"
