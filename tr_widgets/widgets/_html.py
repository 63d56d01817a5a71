"""HTML fragments shared by the live panels (ipywidgets.HTML) and the static snapshots.

Every string that can hold user text (token labels, names) goes through ``html.escape``. Styles are
inline so a snapshot in an exported notebook looks the same without our CSS. Numbers are formatted
with fixed precision (``views.recurrent.fmt``), so the same trace and step give the same bytes.
"""
from __future__ import annotations

import html
import re

import numpy as np

from ..views.recurrent import fmt

E = html.escape
TABLE = "border-collapse:collapse;font:12px monospace"
TD = "border:1px solid #ddd;padding:1px 5px;text-align:left;white-space:nowrap"
TH = TD + ";background:#f4f4f4"
OK, BAD = "color:#1a7f37", "color:#b42318;font-weight:600"


def text_block(s: str, style: str = "color:#555;font-size:11px") -> str:
    """Escaped text in a div (notices, axis summaries)."""
    return f"<div style='{style}'>{E(s)}</div>"


def latex_to_html(latex: str) -> str:
    """torch's LaTeX equations as plain HTML: σ, tanh, ⊙, subscripts (input is our own constants)."""
    s = E(latex)
    for a, b in ((r"\sigma", "σ"), (r"\tanh", "tanh"), (r"\odot", "⊙"), (r"\mathrm{ReLU}", "ReLU")):
        s = s.replace(a, b)
    s = re.sub(r"_\{([^}]*)\}", r"<sub>\1</sub>", s)
    return re.sub(r"_([A-Za-z0-9])", r"<sub>\1</sub>", s)


def equations_table(sv, caption: str) -> str:
    """One row per equation: the equation, then its arithmetic for each shown unit."""
    head = "".join(f"<th style='{TH}'>unit {j}</th>" for j in sv.units)
    rows = [f"<tr><th style='{TH};text-align:left'>equation (torch)</th>{head}</tr>"]
    for eq in sv.equations:
        cells = "".join(f"<td style='{TD}'>{E(c)}</td>" for c in eq.cells)
        rows.append(f"<tr><td style='{TD};text-align:left'>{latex_to_html(eq.latex)}</td>{cells}</tr>")
    return (f"<div class='tr-panel tr-equations' style='max-width:100%;overflow-x:auto'>"
            f"<div style='font-weight:600'>{E(caption)}</div><table style='{TABLE}'>{''.join(rows)}</table></div>")


def bars_svg(name: str, vals: np.ndarray, blocked: np.ndarray, mark: int, note: str, h: int = 48) -> str:
    """A small inline SVG bar chart (snapshot of one BarsCanvas series)."""
    n = len(vals)
    bw = max(1, min(14, 288 // max(n, 1)))
    fin = np.isfinite(vals) & ~blocked
    shown = float(np.abs(vals[fin]).max()) if fin.any() else 0.0
    m = shown or 1.0
    mid = h / 2
    rects = []
    for i, v in enumerate(vals):
        x = i * bw
        if blocked[i]:
            rects.append(f"<rect x='{x}' y='0' width='{bw}' height='{h}' fill='#c8c8c8'/>")
        elif not np.isfinite(v):
            rects.append(f"<rect x='{x}' y='0' width='{bw}' height='{h}' fill='#f0f'/>")
        else:
            bh = max(1.0, round(abs(float(v)) / m * (mid - 2), 2))
            y = mid - bh if v >= 0 else mid
            rects.append(f"<rect x='{x}' y='{y:g}' width='{max(1, bw - (bw > 3))}' height='{bh:g}' "
                         f"fill='{'#b2182b' if v >= 0 else '#2166ac'}'/>")
    if 0 <= mark < n:
        rects.append(f"<rect x='{mark * bw}' y='0' width='{bw}' height='{h}' fill='none' stroke='#ff2828'/>")
    w = max(8, n * bw)
    return (f"<div><div style='font:12px monospace'>{E(name)}</div><svg xmlns='http://www.w3.org/2000/svg' "
            f"width='{w}' height='{h}' style='border:1px solid #bbb'>{''.join(rects)}"
            f"<line x1='0' y1='{mid:g}' x2='{w}' y2='{mid:g}' stroke='#5a5a5a'/></svg>"
            f"{text_block(f'{note} max |x| {shown:.3g}'.strip())}</div>")


def graph_svg(g, kind: str) -> str:
    """The unrolled computation graph: h nodes in a row, x_τ below each, arrows h→h and x→h."""
    state = "(h, c)" if kind == "lstm" else "h"
    nodes = list(g.steps)
    pad = 62 if g.elided else 8
    gap, w = 62, 48
    width = pad + len(nodes) * gap + 8
    out = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='112' role='img' "
           f"aria-label='unrolled computation graph up to step {g.current}' style='font:11px monospace'>",
           "<defs><marker id='tr-arr' viewBox='0 0 6 6' refX='6' refY='3' markerWidth='6' markerHeight='6' "
           "orient='auto'><path d='M0,0 L6,3 L0,6 z' fill='#666'/></marker></defs>"]
    if g.elided:
        side = "earlier" if g.direction == 0 else "later"
        x = 4 if g.direction == 0 else width - 40
        out.append(f"<text x='{x}' y='36' fill='#888'>⋯{g.elided}</text><text x='{x}' y='50' fill='#888'>{side}</text>")
    for k, s in enumerate(nodes):
        x = pad + k * gap
        cur = s == g.current
        out.append(f"<rect x='{x}' y='20' width='{w}' height='30' rx='5' fill='{'#fde2e2' if cur else '#eef3fb'}' "
                   f"stroke='{'#ff2828' if cur else '#7a8fb8'}' stroke-width='{2 if cur else 1}'/>")
        out.append(f"<text x='{x + 4}' y='33'>h{s}</text><text x='{x + 4}' y='45' fill='#555'>{g.norms[k]:.2f}</text>")
        out.append(f"<circle cx='{x + w / 2:g}' cy='92' r='11' fill='#f4f4f4' stroke='#999'/>"
                   f"<text x='{x + w / 2 - 8:g}' y='96'>x{s}</text>")
        out.append(f"<line x1='{x + w / 2:g}' y1='81' x2='{x + w / 2:g}' y2='51' stroke='#666' marker-end='url(#tr-arr)'/>")
        if k:  # h_{t-1} -> h_t (for the reverse direction: h_{t+1} -> h_t, drawn right to left)
            x1, x2 = (x - gap + w, x) if g.direction == 0 else (x, x - gap + w)
            out.append(f"<line x1='{x1}' y1='35' x2='{x2 + (-1 if g.direction == 0 else 1)}' y2='35' stroke='#666' "
                       "marker-end='url(#tr-arr)'/>")
    out.append("</svg>")
    caption = (f"unrolled computation graph: one node {state} per step, edges h<sub>t-1</sub>→h<sub>t</sub> and "
               f"x<sub>t</sub>→h<sub>t</sub>; {len(nodes) + g.elided} of {g.total} steps computed so far, "
               "‖h‖ under each node")
    return f"<div class='tr-panel tr-graph'><div style='font-size:11px;color:#555'>{caption}</div>{''.join(out)}</div>"


def check_html(ok: bool, text: str) -> str:
    """A cross-check line: ✓ in green or ✗ in red, then the escaped text."""
    return f"<div style='{OK if ok else BAD}'>{'✓' if ok else '✗'} {E(text)}</div>"
