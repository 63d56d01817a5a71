"""The Looks of the HTML panels built in ``markup``: the same rows, as ``views.looks_text`` Looks.

The equations table, the o_i table, the decode text and strip, the notes. A stepper shows a panel with
``HTMLPanel.show(html, looks)``; ``save()`` paints these Looks with ``views.svg`` instead of reading the HTML back. Each builder reads the same view and messages as its ``markup`` twin, so the
saved picture and the screen say the same words and numbers.
"""
from __future__ import annotations

import re

from ..engine.text import safe_label
from ..i18n import msg
from ..views.image import text_px
from ..views.looks_text import TEXT_PX, Cell, TextRow, table_look, text_look
from .markup import counted, index_of


def latex_text(latex: str) -> str:
    """torch's LaTeX equation as plain text (σ, tanh, ⊙; ``_{ii}`` -> ``_ii``), as a saved picture writes it.

    Example: ``latex_text(r"i_t = \\sigma(W_{ii} x_t)") == "i_t = σ(W_ii x_t)"``
    """
    s = safe_label(latex)
    for a, b in ((r"\sigma", "σ"), (r"\tanh", "tanh"), (r"\odot", "⊙"), (r"\mathrm{ReLU}", "ReLU")):
        s = s.replace(a, b)
    return re.sub(r"_\{([^}]*)\}", r"_\1", s)


def equations_looks(sv, caption: str) -> tuple:
    """The equations table's Looks (``markup.equations_table``'s rows): its caption, then one row per equation.

    Example::

        sv = views.recurrent.step_view(tr, 2)
        caption, table = equations_looks(sv, "t = 2"); len(table.rows) == 1 + len(sv.equations)
    """
    head = [Cell(msg("equations.equation"), True)] + [Cell(msg("equations.unit", j=j), True) for j in sv.units]
    rows = [[Cell(latex_text(eq.latex))] + [Cell(safe_label(c)) for c in eq.cells] for eq in sv.equations]
    return text_look([TextRow(safe_label(caption), True)]), table_look([head, *rows])


def _check(ok: bool, text: str) -> TextRow:
    """A cross-check row (``markup.check_html``): ✓ in the ok colour, ✗ bold in the bad colour."""
    return TextRow(f"{'✓' if ok else '✗'} {text}", not ok, "ok" if ok else "bad")


def sum_text(rv) -> str:
    """The o_i panel's line on the weights' sum (both the HTML and the Look write it).

    Example: ``sum_text(views.row_view(at, 3, (0, 0), (0, at.S))).startswith("Σ_j w_ij")``
    """
    if not rv.normalized:  # an SSM's effective attention: no softmax, so no sum to check
        return msg("attention.sum_no_softmax", sum=f"{rv.row_sum:.6f}", later=f"{rv.blocked_weight:.1e}")
    if rv.fully_masked:
        return msg("attention.sum_all_masked", sum=f"{rv.row_sum:.6f}")
    return msg("attention.sum", sum=f"{rv.row_sum:.6f}", gap=f"{abs(1 - rv.row_sum):.1e}")


# The last row's Looks: a step draws the o_i panel's HTML from them and keeps them for save(), two calls with one
# row view; the second is answered here (the row view is kept, so its identity is not reused meanwhile).
_LAST: dict = {}


def output_looks(rv, klabels, S: int) -> tuple:
    """The o_i panel's Looks: title, table, the two checks (``markup.attention_output`` writes its HTML from them).

    Example::

        rv = views.row_view(at, 3, (0, 0), (0, at.S))
        title, table, checks = output_looks(rv, None, at.S); len(checks.rows) == 2
    """
    last = _LAST.get("row")
    if last is not None and last[0] is rv and last[1] is klabels and last[2] == S:
        return last[3]
    _LAST["row"] = (rv, klabels, S, _output_looks(rv, klabels, S))
    return _LAST["row"][3]


def _output_looks(rv, klabels, S: int) -> tuple:
    d = min(4, len(rv.output))
    vec = lambda v: " ".join(f"{x:+.4f}" for x in v[:d])  # noqa: E731
    toks = klabels is not None  # a token column only when the trace has tokens
    span = 4 if toks else 3
    head = [msg("attention.col_key")] + ([msg("attention.col_token")] if toks else []) + [
        "w_ij", f"v_j[:{d}]", f"w_ij·v_j[:{d}]"]
    rows = [[Cell(h, True) for h in head]]
    for j, wj, vj, term in rv.top:
        tok = [Cell(safe_label(klabels[j]))] if toks else []
        rows.append([Cell(str(j)), *tok, Cell(f"{wj:.4f}"), Cell(vec(vj)), Cell(vec(term))])
    rest, masked = max(S - len(rv.top), 0), int(rv.blocked_total)
    if rest:  # no row for "the other 0 terms"
        what = counted("attention.other", rest) + (
            msg("attention.other_masked", keys=counted("count.masked_key", masked)) if masked else "")
        rows.append([Cell(what, span=span), Cell(vec(rv.rest))])
    rows.append([Cell("o_i = Σ_j w_ij·v_j", True, span), Cell(vec(rv.output), True)])
    ref = msg("attention.ref_sdpa", i=rv.i) if rv.normalized else msg("attention.ref_scan", i=rv.i)
    rows.append([Cell(ref, span=span), Cell(vec(rv.sdpa))])
    checks = [_check(rv.sum_ok, sum_text(rv)), _check(
        rv.output_ok, msg("attention.check_sdpa", diff=f"{rv.max_abs_diff:.2e}", tol=f"{rv.tolerance:.1e}"))]
    n = len(rv.top)
    which = msg("attention.top_none") if not n else counted("attention.top", n)
    title = text_look([TextRow(msg("attention.output_title", i=rv.i, which=which), True)])
    return title, table_look(rows), text_look(checks)


TEXT_WIDTH = 520  # px: the decode text wraps here, as its HTML box does (max-width:520px)


def wrapped(words, width: float = TEXT_WIDTH) -> list[str]:
    """Words joined by spaces into rows no wider than ``width`` px (a word wider than that has a row of its own).

    Example: ``wrapped(["ab", "cd"], width=20) == ["ab", "cd"]``
    """
    rows, line = [], ""
    for word in words:
        joined = f"{line} {word}" if line else word
        if line and text_px(joined, TEXT_PX) > width:
            rows.append(line)
            joined = word
        line = joined
    return rows + ([line] if line else [])


def decode_looks(t: int, parts, tick, mode: str, n_ticks: int | None = None) -> tuple:
    """The decode text's Looks (``markup.decode_text``'s words): title, the text so far (wrapped), the
    decoding mode, then the candidates with their p (the chosen one marked ◀).

    Example::

        tick = dt.ticks[1]                                     # dt: decode(model, "The cat sat on the", 3)
        looks = decode_looks(1, (["The", "cat"], ["sat"], tick.token, 0), tick, "greedy")
        len(looks[-1].rows) == 1 + len(tick.topk_tokens)
    """
    prompt, made, new, cut = parts
    lead = [counted("decode.earlier_tokens", cut)] if cut else []
    words = [safe_label(s) for s in (*lead, *prompt, *made, new)]
    tick_no = index_of(t, n_ticks) if n_ticks else str(t)
    title = TextRow(msg("decode.text_title", tick=tick_no, last=tick.query_position), True)
    text = text_look([title, *wrapped(words), TextRow(mode, colour="fg-muted")])
    head = [Cell(msg("decode.candidate"), True), Cell("p", True), Cell("", True)]
    rows = [[Cell(safe_label(tok)), Cell(f"{p:.3f}"), Cell("◀" if tok == tick.token else "")]
            for tok, p in zip(tick.topk_tokens, tick.topk_probs)]
    return text, table_look([head, *rows])


def strip_looks(tv, use_cache: bool, newest: int) -> tuple:
    """The decode strip's Looks (``markup.decode_strip``'s boxes): its legend, then the newest ``newest``
    positions as columns, token over "position · weight".

    Example::

        tv = views.decode.tick_view(dt, 1)                     # tick 1, layer 0, head 0
        len(strip_looks(tv, dt.use_cache, newest=4)[-1].rows[0]) == min(4, len(tv.labels))
    """
    n = len(tv.labels)
    a = max(0, n - newest)
    legend = msg("decode.strip_legend" if use_cache else "decode.strip_legend_no_cache", head=tv.head)
    earlier = tv.window.c0 + a
    rows = [TextRow(legend, colour="fg-muted")] + (
        [TextRow(msg("decode.strip_earlier", n=earlier), colour="fg-muted")] if earlier else [])
    tokens = [Cell(safe_label(tv.labels[j]), align="end") for j in range(a, n)]
    numbers = [Cell(f"{tv.window.c0 + j} · {float(tv.weights[j]):.2f}", align="end") for j in range(a, n)]
    return text_look(rows), table_look([tokens, numbers])


def notes_looks(notes) -> tuple:
    """The notes' Look (``markup.notes_html`` writes its HTML from it): the title, then one "• note" row each, in
    the bad colour.

    Example: ``notes_looks(["dropout is not replayed"])[0].rows[1].text == "• dropout is not replayed"``
    """
    rows = [TextRow(msg("notes.title"), True, "bad")] + [TextRow(f"• {safe_label(n)}", colour="bad") for n in notes]
    return (text_look(rows),)
