"""The Looks of the HTML panels built in ``markup``: the same rows, as ``views.looks_text`` Looks.

A stepper shows a panel with ``HTMLPanel.show(html, looks)``; ``save()`` paints these Looks with ``views.svg``
instead of reading the HTML back. Each builder reads the same view and messages as its ``markup`` twin, so the
saved picture and the screen say the same words and numbers.
"""
from __future__ import annotations

import re

from ..engine.text import safe_label
from ..i18n import msg
from ..views.looks_text import Cell, TextRow, table_look, text_look
from .markup import counted


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


def output_looks(rv, klabels, S: int) -> tuple:
    """The o_i table's Looks (``markup.attention_output``'s rows): title, table, the two checks.

    Example::

        rv = views.row_view(at, 3, (0, 0), (0, at.S))
        title, table, checks = output_looks(rv, None, at.S); len(checks.rows) == 2
    """
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
