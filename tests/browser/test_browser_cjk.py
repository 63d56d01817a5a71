"""A Chinese stepper in JupyterLab 4, drawn with a real CJK font: no character renders as tofu.

With ``set_language("zh")`` every caption and control is Chinese, and the Chinese tiny model's
tokens are Chinese characters. Debian's Chromium has no CJK font of its own: without one installed
(the Makefile's CJK_FONT, binder/apt.txt) each of those characters is drawn as the same empty box.

How tofu is detected, in the page: every distinct CJK character of the stepper's text is drawn on a
canvas in the font-family its element uses (Chromium falls back through fontconfig exactly as it
does for the element), and its pixels are compared with those of characters no font has (unassigned
code points, drawn as the .notdef box). A character is tofu when its pixels equal that box, or have
no ink; and distinct characters must give distinct pictures (a row of identical boxes is tofu too).
A control run checks that the detector does flag characters with no glyph, so the test can fail.
Try it without the font: ``FONTCONFIG_FILE=<a fonts.conf listing only /usr/share/fonts/truetype/dejavu>``.

The screenshot zh_stepper.png goes to $TR_SCREENSHOTS (default: the test's tmp_path); the README's
copy is made with ``TR_SCREENSHOTS=docs/screenshots``.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from browser_harness import (
    assert_clean, cell_output, kernel_eval, open_notebook, run_all_cells, wait_drawn, wait_steps, write_notebook,
)

pytestmark = pytest.mark.browser

SETUP = """\
import torch, tr_widgets
tr_widgets.set_language("zh")
torch.manual_seed(0)
model, tok = tr_widgets.load_tiny("zh")   # the character-level Chinese tiny model"""
ATTENTION_CELL = """\
labels = tr_widgets.token_labels(tok, tok.encode("猫坐在垫子上。"))
q, k, v = torch.randn(3, 1, 2, len(labels), 8).unbind(0)  # each [B=1, heads=2, T=7, E=8]
att = tr_widgets.show(tr_widgets.trace_attention(q, k, v, is_causal=True, tokens=labels))
att"""
DECODE_CELL = """\
dec = tr_widgets.show(tr_widgets.decode(model, "猫坐在", 8, tokenizer=tok))
dec"""
ATTENTION, DECODE = 1, 2  # code cell indices

# CJK punctuation, kana, ideographs (ext. A and the main block), compatibility ideographs, full-width forms
CJK_CLASS = r"[\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]"
NO_GLYPH = ["\u0378", "\u0379", "\u0380", "\u0381", "\u0382"]  # unassigned code points: no font has them

# {font-family: [distinct CJK characters drawn in it]} for the text shown under `root`
COLLECT_JS = """(root) => {
  const cjk = new RegExp('%s', 'u');
  const byFamily = {};
  const walk = (node) => {
    const it = document.createTreeWalker(node, NodeFilter.SHOW_TEXT | NodeFilter.SHOW_ELEMENT);
    for (let n = it.currentNode; n; n = it.nextNode()) {
      if (n.nodeType === Node.ELEMENT_NODE) { if (n.shadowRoot) walk(n.shadowRoot); continue; }
      const chars = [...n.data].filter(c => cjk.test(c));
      if (!chars.length || !n.parentElement) continue;
      const fam = getComputedStyle(n.parentElement).fontFamily;
      byFamily[fam] = [...new Set([...(byFamily[fam] || []), ...chars])];
    }
  };
  walk(root);
  return byFamily;
}""" % CJK_CLASS

# Draw each character (and the no-glyph references) at 32 px in `family`; report tofu.
TOFU_JS = """([family, chars, noGlyph]) => {
  const S = 48, c = document.createElement('canvas'); c.width = c.height = S;
  const ctx = c.getContext('2d', {willReadFrequently: true});
  const picture = (ch) => {
    ctx.clearRect(0, 0, S, S); ctx.font = `32px ${family}`; ctx.fillStyle = '#000';
    ctx.textBaseline = 'alphabetic'; ctx.fillText(ch, 6, 38);
    const a = ctx.getImageData(0, 0, S, S).data; let ink = 0, key = '';
    for (let i = 3; i < a.length; i += 4) { ink += a[i] > 0; key += String.fromCharCode(a[i]); }
    return {ink, key, width: ctx.measureText(ch).width};
  };
  const boxes = new Set(noGlyph.map(ch => picture(ch).key));
  const seen = new Map(), tofu = [];
  for (const ch of chars) {
    const p = picture(ch);
    if (!p.ink || boxes.has(p.key)) tofu.push(ch);
    seen.set(p.key, [...(seen.get(p.key) || []), ch]);
  }
  const alike = [...seen.values()].filter(group => group.length > 1);
  return {family, chars: chars.length, tofu, alike, boxes: boxes.size};
}"""


def tofu_report(page, by_family: dict) -> list[dict]:
    return [page.evaluate(TOFU_JS, [family, chars, NO_GLYPH]) for family, chars in sorted(by_family.items())]


def problems(reports: list[dict]) -> list[str]:
    out = []
    for r in reports:
        if r["tofu"]:
            out.append(f"{r['family']}: {len(r['tofu'])} of {r['chars']} characters are tofu: {''.join(r['tofu'][:40])}")
        if r["alike"]:
            out.append(f"{r['family']}: distinct characters drawn alike (boxes): {r['alike'][:5]}")
    return out


@pytest.fixture(scope="module")
def zh_lab(browser_page, jupyter, notebook_dir):
    write_notebook(notebook_dir / "stepper_zh.ipynb", [SETUP, ATTENTION_CELL, DECODE_CELL])
    open_notebook(browser_page, jupyter, "stepper_zh.ipynb")
    browser_page.evaluate("() => { window.jupyterapp.shell.collapseLeft(); window.jupyterapp.shell.collapseRight(); }")
    run_all_cells(browser_page)
    for cell in (ATTENTION, DECODE):
        out = cell_output(browser_page, cell)
        wait_drawn(browser_page, out)
    return browser_page


def test_the_detector_flags_characters_without_a_glyph(zh_lab):
    # the control: characters no font has must come out as tofu, or the test below proves nothing
    [r] = tofu_report(zh_lab, {"sans-serif": ["\u0383", "\u038b", "\u038d"]})
    assert r["tofu"] == ["\u0383", "\u038b", "\u038d"], r


@pytest.mark.parametrize("cell", [ATTENTION, DECODE], ids=["attention", "decode"])
def test_chinese_stepper_has_no_tofu(zh_lab, cell):
    out = cell_output(zh_lab, cell)
    out.scroll_into_view_if_needed()
    kernel_eval(zh_lab, f"{'att' if cell == ATTENTION else 'dec'}.step = 3")
    wait_steps(zh_lab, out, 3)
    by_family = out.evaluate(COLLECT_JS)
    shown = {ch for chars in by_family.values() for ch in chars}
    # captions and controls in Chinese, and the model's characters as token labels
    assert {"猫", "坐", "在"} <= shown, f"the Chinese token labels are not shown as text: {sorted(shown)}"
    assert len(shown) >= 10, f"few Chinese characters shown (is the stepper in Chinese?): {sorted(shown)}"
    bad = problems(tofu_report(zh_lab, by_family))
    assert not bad, "CJK glyphs render as tofu; install a CJK font (make chromium: CJK_FONT):\n" + "\n".join(bad)
    assert_clean(zh_lab, "zh stepper")


def test_screenshot_of_the_chinese_stepper(zh_lab, tmp_path):
    out = cell_output(zh_lab, DECODE)
    kernel_eval(zh_lab, "dec.step = 5")
    wait_steps(zh_lab, out, 5)
    size = zh_lab.viewport_size
    height = int(out.evaluate("e => e.getBoundingClientRect().height"))
    zh_lab.set_viewport_size({"width": size["width"], "height": max(size["height"], height + 300)})
    try:
        out.scroll_into_view_if_needed()
        zh_lab.wait_for_timeout(300)
        folder = Path(os.environ.get("TR_SCREENSHOTS") or tmp_path)
        folder.mkdir(parents=True, exist_ok=True)
        out.screenshot(path=str(folder / "zh_stepper.png"))
    finally:
        zh_lab.set_viewport_size(size)
    assert (folder / "zh_stepper.png").stat().st_size > 10_000
