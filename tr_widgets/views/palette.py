"""The only source of colours and cell sizes. Python paints the static snapshots with these; the
canvases receive them as traits (``widget_palette``) and the JavaScript paints exactly what it is sent.

Sequential map (weights, in [0, max]): viridis anchors, perceptually ordered and colour-blind safe.
Diverging map (signed values, centred at zero): blue (negative) – near white – red (positive).
Cells are sent as uint8 codes (``matrix.LEVELS``..): NaN/inf magenta, blocked (masked) grey with a hatch.
"""
from __future__ import annotations

import re

import numpy as np

from .matrix import LEVELS

SEQUENTIAL = [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)]
DIVERGING = [(33, 102, 172), (247, 247, 247), (178, 24, 43)]
COLOURS = {
    "blocked": (200, 200, 200),  # a key the mask removed
    "hatch": (120, 120, 120),  # the diagonal stroke inside a blocked cell
    "nonfinite": (255, 0, 255),  # NaN or inf
    "mark": (255, 40, 40),  # the current step / query
    "positive": (178, 24, 43),  # a bar above zero
    "negative": (33, 102, 172),  # a bar below zero
    "zero": (90, 90, 90),  # a bar chart's zero line
}

# Cell sizes: a matrix window fills about WINDOW_PX per axis (at most CELL_MAX px a cell), an overview
# about OVERVIEW_PX (at most OVERVIEW_CELL_MAX), a bar chart about BARS_PX (at most BAR_MAX a bar).
WINDOW_PX, CELL_MAX = 384, 24
OVERVIEW_PX, OVERVIEW_CELL_MAX = 256, 4
BARS_PX, BAR_MAX = 288, 14


def lut(anchors) -> np.ndarray:
    """A [256, 3] uint8 colour table interpolating ``anchors`` over codes 0..LEVELS.

    Example: ``lut(SEQUENTIAL)[0].tolist() == [68, 1, 84]``
    """
    anchors = np.asarray(anchors, dtype=np.float64)
    pos = np.linspace(0, LEVELS, len(anchors))
    codes = np.arange(256, dtype=np.float64)
    table = np.stack([np.interp(codes, pos, anchors[:, k]) for k in range(3)], axis=1)
    return np.rint(table).astype(np.uint8)


LUTS = {"sequential": lut(SEQUENTIAL), "diverging": lut(DIVERGING)}


def cell_px(n: int, limit: int = WINDOW_PX, cap: int = CELL_MAX) -> int:
    """Pixels per cell for ``n`` cells along an axis. Example: ``cell_px(8) == 24; cell_px(192) == 2``"""
    return max(1, min(cap, limit // max(n, 1)))


def overview_px(rows: int, cols: int) -> int:
    """Pixels per cell of an overview (square cells). Example: ``overview_px(256, 64) == 1``"""
    return cell_px(max(rows, cols), OVERVIEW_PX, OVERVIEW_CELL_MAX)


def bar_px(n: int) -> int:
    """Pixels per bar for a chart of ``n`` values. Example: ``bar_px(10) == 14``"""
    return cell_px(n, BARS_PX, BAR_MAX)


def css(rgb) -> str:
    """``rgb(r,g,b)`` for a colour tuple. Example: ``css((255, 40, 40)) == "rgb(255,40,40)"``"""
    return f"rgb({rgb[0]},{rgb[1]},{rgb[2]})"


def widget_palette() -> dict:
    """What a canvas receives: every named colour as CSS and every colour table as a flat list.

    Example: ``widget_palette()["colours"]["mark"] == "rgb(255,40,40)"``
    """
    return {"colours": {k: css(v) for k, v in COLOURS.items()},
            "luts": {k: v.ravel().tolist() for k, v in LUTS.items()}}


# Colours that are not data (background, text, borders, the step marker...) follow the notebook's
# theme: JupyterLab's --jp-* variable, else VS Code's --vscode-*, else a light default. The data maps
# above stay fixed in both themes (viridis and RdBu are perceptually ordered and colour-blind safe).
# tr.css defines each as --tr-<name> on our containers; the canvases read --tr-<name> when they draw;
# inline styles (static snapshots, which may be shown without tr.css) use ``theme_css(name)``.
# The jp variables are chosen so that text meets WCAG AA (4.5:1) on "bg" in both JupyterLab Light and Dark
# (tests/views/test_palette_theme.py computes it from the installed theme CSS): fg, fg-muted, mark, ok and bad
# are text colours; highlight, border and hatch are strokes only (highlight ≥ 3:1, as WCAG asks of graphics).
THEME = {
    "bg": ("--jp-layout-color0", "--vscode-editor-background", "#ffffff"),  # panel and canvas background
    "bg-alt": ("--jp-layout-color2", "--vscode-editorWidget-background", "#eeeeee"),  # table headers
    "fg": ("--jp-content-font-color1", "--vscode-editor-foreground", "#1a1a1a"),  # text
    "fg-muted": ("--jp-ui-font-color1", "--vscode-descriptionForeground", "#3d3d3d"),  # captions, notes, axes
    "border": ("--jp-border-color1", "--vscode-panel-border", "#bdbdbd"),  # canvas frames, table grid
    "mark": ("--jp-error-color1", "--vscode-editorError-foreground", "#d32f2f"),  # the current step / query
    # largest weight, new token: a stroke, never text (no orange reaches 4.5:1 on both white and #111)
    "highlight": ("--jp-warn-color0", "--vscode-editorWarning-foreground", "#e65100"),
    "ok": ("--jp-success-color0", "--vscode-testing-iconPassed", "#1b5e20"),  # a passed cross-check
    "bad": ("--jp-error-color1", "--vscode-errorForeground", "#b42318"),  # a failed one
    "hatch": ("--jp-layout-color4", "--vscode-panel-border", "#787878"),  # the stroke over masked (grey) cells
}


def theme_css(name: str) -> str:
    """The CSS value of theme colour ``name``: JupyterLab's variable, VS Code's, then the light default.

    Example: ``theme_css("bg") == "var(--jp-layout-color0, var(--vscode-editor-background, #ffffff))"``
    """
    jp, vscode, light = THEME[name]
    return f"var({jp}, var({vscode}, {light}))"


def theme_var(name: str) -> str:
    """The short CSS value of theme colour ``name``, for HTML shown beside tr.css (live panels and the
    frames of exported pages, which ship it): tr.css's ``--tr-<name>``, else the light default. A static
    snapshot may be shown without tr.css: :func:`standalone` gives it the full chains.

    Example: ``theme_var("bg") == "var(--tr-bg,#ffffff)"``
    """
    return f"var(--tr-{name},{THEME[name][2]})"


_SHORT = re.compile(r"var\(--tr-([a-z-]+),(#[0-9a-fA-F]{3,8})\)")


def standalone(html: str) -> str:
    """``html`` with each :func:`theme_var` written out as its :func:`theme_css` chain, so it follows the
    notebook's theme without tr.css (GitHub, nbviewer, an untrusted notebook).

    Example: ``standalone("color:var(--tr-fg,#1a1a1a)") == "color:" + theme_css("fg")``
    """
    return _SHORT.sub(lambda m: theme_css(m[1]) if m[1] in THEME else m[0], html)


def light_theme() -> dict[str, str]:
    """Each theme colour's light default (what a page without the notebook's theme variables shows).

    Example: ``light_theme()["bg"] == "#ffffff"``
    """
    return {name: light for name, (_, _, light) in THEME.items()}
