"""The theme colours: tr.css defines every --tr-<name> exactly as ``palette.theme_css(name)`` says, no other
colour is hard-coded there, and the text colours meet WCAG AA (4.5:1) in JupyterLab Light and Dark, computed
from the installed JupyterLab theme CSS (and for the light defaults a page without JupyterLab shows)."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from tr_widgets.views import palette

REPO = Path(__file__).resolve().parents[2]
CSS = REPO / "tr_widgets" / "static" / "tr.css"
THEMES = Path(sys.prefix) / "share" / "jupyter" / "lab" / "themes" / "@jupyterlab"
CONTAINERS = (".tr-stepper", ".tr-matrix", ".tr-bars", ".tr-clock", ".tr-controller", ".tr-export", ".tr-snapshot",
              ".tr-panel")
TEXT = ("fg", "fg-muted", "mark", "ok", "bad")  # colours text is written in
ON_ALT = ("fg", "fg-muted")  # ... and those also written on bg-alt (table headers)


def _rules(css: str) -> list[tuple[str, str]]:
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    return [(sel.strip(), body) for sel, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css)]


def test_live_panels_use_the_short_form_and_snapshots_the_full_chains():
    """Panels redrawn every step carry ``var(--tr-x,#light)`` (tr.css is on the page); a snapshot, which may
    be shown without tr.css, gets each written out as the --jp / --vscode chain."""
    import torch

    import tr_widgets
    q = torch.randn(1, 6, 4)
    s = tr_widgets.show(tr_widgets.trace_attention(q, q, q, is_causal=True), progress=False)
    live = s.output.value
    assert palette.theme_var("border") in live and "var(--jp-" not in live
    snap = s.snapshot_html()
    assert not re.search(r"var\(--tr-[a-z-]+,#", snap) and palette.theme_css("border") in snap
    full = live
    for name in palette.THEME:
        full = full.replace(palette.theme_var(name), palette.theme_css(name))
    assert palette.standalone(live) == full != live


def test_tr_css_defines_every_theme_colour_as_theme_css_says():
    rules = _rules(CSS.read_text())
    defining = [(sel, body) for sel, body in rules if re.search(r"--tr-[\w-]+\s*:", body)]
    assert defining, "tr.css defines no --tr-* property"
    for sel, body in defining:
        assert {s.strip() for s in sel.split(",")} >= set(CONTAINERS), f"--tr-* defined on {sel!r}, not on all containers"
        props = dict(re.findall(r"(--tr-[\w-]+)\s*:\s*([^;]+);", body))
        assert props == {f"--tr-{n}": palette.theme_css(n) for n in palette.THEME}


def test_tr_css_hard_codes_no_colour_outside_theme_variables():
    for sel, body in _rules(CSS.read_text()):
        plain = re.sub(r"--tr-[\w-]+\s*:[^;]+;", "", body)
        while re.search(r"var\(--[\w-]+\s*,[^()]*\)", plain):  # a theme variable's own fallback is allowed
            plain = re.sub(r"var\(--[\w-]+\s*,[^()]*\)", "var()", plain)
        found = re.findall(r"#[0-9a-fA-F]{3,8}\b|\brgba?\(|\bhsla?\(", plain)
        assert not found, f"{sel}: hard-coded colour {found}; use var(--tr-<name>)"


# ---- contrast from the installed JupyterLab themes --------------------------------------------------

def _variables(theme: str) -> dict[str, str]:
    path = THEMES / f"theme-{theme}-extension" / "index.css"
    if not path.exists():
        pytest.skip(f"JupyterLab's {theme} theme CSS is not installed at {path}")
    out: dict[str, str] = {}
    for block in re.findall(r":root\s*\{(.*?)\}", path.read_text(), re.S):
        for k, v in re.findall(r"(--[\w-]+)\s*:\s*([^;}]*)", block):
            out.setdefault(k, v.strip())
    return out


def _resolve(variables: dict, value: str) -> str:
    m = re.fullmatch(r"var\((--[\w-]+)(?:\s*,\s*(.*))?\)", value.strip())
    if not m:
        return value.strip()
    if m.group(1) in variables:
        return _resolve(variables, variables[m.group(1)])
    assert m.group(2), f"{m.group(1)} is undefined and has no fallback"
    return _resolve(variables, m.group(2))


def rgba(s: str) -> tuple[float, float, float, float]:
    """A CSS colour (#hex, rgb(), rgba(), white/black) as (r, g, b, alpha). Example: ``rgba("#fff")[:3] == (255, 255, 255)``"""
    s = {"white": "#ffffff", "black": "#000000"}.get(s.strip(), s.strip())
    if s.startswith("#"):
        h = s[1:] if len(s) > 5 else "".join(c * 2 for c in s[1:])
        return (*(int(h[i:i + 2], 16) for i in (0, 2, 4)), int(h[6:8], 16) / 255 if len(h) == 8 else 1.0)
    parts = [float(x) for x in re.split(r"[\s,/]+", re.fullmatch(r"rgba?\((.*)\)", s).group(1).strip())]
    return (*parts[:3], parts[3] if len(parts) > 3 else 1.0)


def over(c, bg):
    """Colour ``c`` (with alpha) composited over the opaque ``bg``."""
    return tuple(c[i] * c[3] + bg[i] * (1 - c[3]) for i in range(3)) + (1.0,)


def contrast(a, b) -> float:
    """WCAG 2 contrast ratio of two opaque colours. Example: ``round(contrast(rgba("#000"), rgba("#fff")), 1) == 21.0``"""
    def lum(c):
        ch = [x / 255 for x in c[:3]]
        ch = [x / 12.92 if x <= 0.04045 else ((x + 0.055) / 1.055) ** 2.4 for x in ch]
        return 0.2126 * ch[0] + 0.7152 * ch[1] + 0.0722 * ch[2]
    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def _colours(theme: str) -> dict[str, tuple]:
    """Each theme colour as JupyterLab ``theme`` resolves it (``None``: the light defaults alone)."""
    if theme == "default":
        return {n: rgba(light) for n, (_, _, light) in palette.THEME.items()}
    v = _variables(theme)
    return {n: rgba(_resolve(v, f"var({jp}, {light})")) for n, (jp, _, light) in palette.THEME.items()}


@pytest.mark.parametrize("theme", ["light", "dark", "default"])
def test_text_colours_meet_wcag_aa_on_the_theme_backgrounds(theme):
    c = _colours(theme)
    bg, alt = c["bg"], over(c["bg-alt"], c["bg"])
    low = {n: round(contrast(over(c[n], bg), bg), 2) for n in TEXT}
    low.update({f"{n} on bg-alt": round(contrast(over(c[n], alt), alt), 2) for n in ON_ALT})
    assert all(r >= 4.5 for r in low.values()), f"JupyterLab {theme}: contrast below 4.5:1 in {low}"
    assert contrast(over(c["highlight"], bg), bg) >= 3.0, "the highlight outline must reach 3:1 (WCAG non-text)"
    hatch = contrast(over(c["hatch"], rgba(palette.css(palette.COLOURS["blocked"]))), rgba(palette.css(palette.COLOURS["blocked"])))
    assert hatch >= 1.8, f"the hatch over masked cells is barely visible ({hatch:.2f}:1)"


def test_dark_background_is_dark_and_data_maps_are_the_same_in_both_themes():
    assert contrast(_colours("dark")["bg"], rgba("#000000")) < 2.0
    assert palette.SEQUENTIAL[0] == (68, 1, 84) and palette.DIVERGING[1] == (247, 247, 247)
    assert palette.light_theme() == {n: v[2] for n, v in palette.THEME.items()}
