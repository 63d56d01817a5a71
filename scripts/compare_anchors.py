"""Screenshots for docs/comparison.md: bertviz's head view next to our three steppers, same input.

One JupyterLab 4 notebook (tests/browser/browser_harness.py starts it, Debian's /usr/bin/chromium
shows it) builds a small GPT-2 from a config (random weights, eager attention) and runs it on
"The cat sat on the mat" (ids from the tiny model's word tokenizer). Its cells show:

- bertviz ``head_view`` of ``output_attentions`` (bertviz loads require.js, d3 and jQuery from
  cdnjs; a Playwright route answers those URLs from local copies, so nothing leaves the machine);
- the AttentionStepper of the same GPT-2's layer 0, from ``tr_widgets.capture`` (the setup cell
  checks its weights against ``output_attentions``);
- the RecurrentStepper of an LSTM (hidden size 10) over embeddings of the same six tokens;
- the DecodeStepper of ``decode(*load_tiny(), "The cat sat on the", 8, tokenizer=...)``;
- both attention views again on the sentence 8 times (48 tokens), for scale.

Each output is saved in JupyterLab Light and Dark as docs/comparison/<name>_<theme>.png (the long
ones in Light only), plus bertviz's first-run output, and both tools while hovering "mat". It prints
a JSON report: the exactness check, the CDN requests it answered, page errors, heights, file sizes.
Not part of the package nor of the tests. Needs bertviz importable (``--bertviz-lib`` adds a
``pip install --no-deps --target`` folder) and the three JS files (``--js-dir``; fetched with
``npm pack`` when missing). Never installs a browser.

Example::

    pip install --no-deps --target /tmp/bvlib bertviz
    .venv/bin/python scripts/compare_anchors.py --bertviz-lib /tmp/bvlib --js-dir /tmp/bvjs
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "browser"))
from browser_harness import (  # noqa: E402
    JupyterServer, cell_output, kernel_eval, launch_chromium, open_notebook, run_all_cells, write_notebook,
)

# What bertviz 1.4.1 asks cdnjs for, and the npm package (version, file) answering it. jQuery 2.0.0
# was never published to npm; 2.1.0 is the nearest 2.x (bertviz only uses $(...) selectors from it).
CDN = {
    "require.min.js": ("requirejs", "2.3.6", "package/require.js"),
    "d3.min.js": ("d3", "5.7.0", "package/dist/d3.min.js"),
    "jquery.min.js": ("jquery", "2.1.0", "package/dist/jquery.min.js"),
}
SENTENCE = "The cat sat on the mat"

SETUP = """\
import sys, torch, transformers, tr_widgets
sys.path.insert(0, {bertviz_lib!r})
transformers.logging.set_verbosity_error()
_, tok = tr_widgets.load_tiny()
tokens = {sentence!r}.split()
ids = torch.tensor([tok.encode({sentence!r})])  # [B=1, T=6]
torch.manual_seed(0)
# initializer_range 0.3 (GPT-2 uses 0.02): random heads then attend unevenly, so the views have shapes
cfg = transformers.GPT2Config(vocab_size=tok.vocab_size, n_positions=64, n_embd=64, n_layer=2, n_head=4,
                              initializer_range=0.3)
gpt = transformers.GPT2LMHeadModel._from_config(cfg, attn_implementation="eager").eval()
with torch.no_grad():
    out = gpt(ids, output_attentions=True)  # attentions: 2 x [1, heads=4, 6, 6]
with tr_widgets.capture(gpt) as rec, torch.no_grad():
    gpt(ids)
ours = rec["transformer.h.0.attn"].labelled(tokens)
diff = (ours.weights.reshape(out.attentions[0].shape) - out.attentions[0]).abs().max().item()
print(f"max |tr_widgets weights - HF output_attentions| (layer 0) = {{diff:.1e}}")"""
BERTVIZ = """\
from bertviz import head_view
head_view(list(out.attentions), tokens)"""
ATTENTION = """\
att = tr_widgets.show(ours)
att.step = 5  # query 5 "mat": the row that sees every key
att"""
RECURRENT = """\
emb = torch.nn.Embedding(tok.vocab_size, 8)
lstm = torch.nn.LSTM(input_size=8, hidden_size=10)
with torch.no_grad():
    x = emb(ids).transpose(0, 1)  # [T=6, B=1, 8]
rec_w = tr_widgets.show(tr_widgets.trace_recurrent(lstm, x))
rec_w.step = 3
rec_w"""
DECODE = """\
tiny, tiny_tok = tr_widgets.load_tiny()
dec = tr_widgets.show(tr_widgets.decode(tiny, "The cat sat on the", 8, tokenizer=tiny_tok))
dec.step = 3
dec"""
# Scale: the sentence 8 times (48 tokens), layer 0 only, in both tools.
LONG = """\
long_tokens = tokens * 8
long_ids = ids.repeat(1, 8)  # [B=1, T=48]
with torch.no_grad():
    long_out = gpt(long_ids, output_attentions=True)
with tr_widgets.capture(gpt) as long_rec, torch.no_grad():
    gpt(long_ids)
head_view([long_out.attentions[0]], long_tokens)"""
LONG_OURS = """\
att_long = tr_widgets.show(long_rec["transformer.h.0.attn"].labelled(long_tokens))
att_long.step = 47
att_long"""
SHOTS = {"bertviz_head_view": 1, "ours_attention": 2, "ours_recurrent": 3, "ours_decode": 4,
         "bertviz_long": 5, "ours_long": 6}
LIGHT_ONLY = {"bertviz_long", "ours_long"}
# bertviz draws in a ~340 px wide SVG inside a full-width div: keep its left 440 px; of the long one
# only the top 700 px (the full 48 × 48 × 4 lines make a PNG past 200 KB)
CLIP_PX = {"bertviz_head_view": (440, 10_000), "bertviz_long": (440, 700)}
THEMES = {"light": "JupyterLab Light", "dark": "JupyterLab Dark"}


def js_files(js_dir: Path) -> dict[str, Path]:
    """The local file answering each cdnjs URL, `npm pack`-ed into js_dir when missing."""
    files = {}
    for name, (pkg, version, member) in CDN.items():
        dest = js_dir / f"{pkg}-{version}" / member
        if not dest.exists():
            js_dir.mkdir(parents=True, exist_ok=True)
            subprocess.run(["npm", "pack", f"{pkg}@{version}"], cwd=js_dir, check=True, capture_output=True)
            with tarfile.open(js_dir / f"{pkg}-{version}.tgz") as tar:
                tar.extractall(js_dir / f"{pkg}-{version}", filter="data")
        files[name] = dest
    return files


def answer_cdn(page, files: dict[str, Path], log: list[str]) -> None:
    """Answer cdnjs requests from local files; anything else not on 127.0.0.1 is refused and logged."""
    def handle(route):
        url = route.request.url
        if url.startswith("http://127.0.0.1"):
            return route.continue_()
        name = url.rsplit("/", 1)[-1].split("?")[0]
        if "cdnjs.cloudflare.com" in url and name in files:
            log.append(f"served locally: {url}")
            return route.fulfill(status=200, content_type="application/javascript", body=files[name].read_bytes())
        log.append(f"refused: {url}")
        return route.abort()
    page.route("**/*", handle)


_RUN_CELL_JS = """async (i) => {
  const nb = window.jupyterapp.shell.currentWidget.content;
  nb.activeCellIndex = i;
  await window.jupyterapp.commands.execute('notebook:run-cell');
}"""


def rerun_bertviz(page, out_dir: Path) -> None:
    """Keep bertviz's first-run output, then run its cell again and wait for its drawing.

    In a fresh JupyterLab 4 page, head_view's first output says "Javascript Error: require is not
    defined": it adds require.js as a <script src>, which loads asynchronously, and its Javascript
    output runs at once. By the second run require.js is there (users run the cell twice).
    """
    out = cell_output(page, SHOTS["bertviz_head_view"])
    out.scroll_into_view_if_needed()
    page.wait_for_timeout(1000)
    out.screenshot(path=str(out_dir / "bertviz_first_run_light.png"))
    for name in ("bertviz_head_view", "bertviz_long"):
        out = cell_output(page, SHOTS[name])
        if "require is not defined" in (out.text_content() or ""):
            page.evaluate(_RUN_CELL_JS, SHOTS[name])
        cell_output(page, SHOTS[name]).locator("svg text").first.wait_for(state="attached", timeout=60_000)


def _target(page, name: str):
    out = cell_output(page, SHOTS[name])
    return out.locator("[id^='bertviz-']").first if name.startswith("bertviz") else out


def shoot(page, out_dir: Path, theme: str, heights: dict) -> list[Path]:
    saved = []
    for name in SHOTS:
        if theme != "light" and name in LIGHT_ONLY:
            continue
        target = _target(page, name)
        heights[name] = round(target.bounding_box()["height"])
        target.scroll_into_view_if_needed()
        page.wait_for_timeout(1500)  # canvases repaint after a theme switch or scroll
        path = out_dir / f"{name}_{theme}.png"
        if name in CLIP_PX:
            box = target.bounding_box()
            w, h = CLIP_PX[name]
            page.screenshot(path=str(path), clip=dict(box, width=min(box["width"], w), height=min(box["height"], h)))
        else:
            target.screenshot(path=str(path))
        saved.append(path)
    return saved


def shoot_hover(page, out_dir: Path) -> list[Path]:
    """Hovering: bertviz over the left "mat" (that query's weights as box opacity, per head); ours
    over the attention weights cell (query 5, key 2). Skipped (with a note) if a target is missing."""
    saved = []
    bv = _target(page, "bertviz_head_view")
    bv.scroll_into_view_if_needed()
    bv.locator("svg text", has_text="mat").first.hover()
    page.wait_for_timeout(500)
    box = bv.bounding_box()
    page.screenshot(path=str(out_dir / "bertviz_hover_light.png"), clip=dict(box, width=min(box["width"], 440)))
    saved.append(out_dir / "bertviz_hover_light.png")
    att = _target(page, "ours_attention")
    weights = att.locator(".tr-matrix", has_text="attention weights").locator("canvas").first
    if weights.count():
        weights.scroll_into_view_if_needed()
        box = weights.bounding_box()
        page.mouse.move(box["x"] + box["width"] * 2.5 / 6, box["y"] + box["height"] * 5.5 / 6)
        page.wait_for_timeout(500)
        att.screenshot(path=str(out_dir / "ours_attention_hover_light.png"))
        saved.append(out_dir / "ours_attention_hover_light.png")
    return saved


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "comparison")
    ap.add_argument("--bertviz-lib", default="/tmp/bvlib", help="folder holding the bertviz package")
    ap.add_argument("--js-dir", type=Path, default=Path("/tmp/bvjs"))
    ap.add_argument("--width", type=int, default=1320, help="browser viewport width (px)")
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    files = js_files(args.js_dir)
    args.out.mkdir(parents=True, exist_ok=True)
    net_log: list[str] = []
    with tempfile.TemporaryDirectory(prefix="compare_anchors_") as tmp:
        nb_dir = Path(tmp) / "nb"
        nb_dir.mkdir()
        setup = SETUP.format(bertviz_lib=str(args.bertviz_lib), sentence=SENTENCE)
        write_notebook(nb_dir / "compare.ipynb", [setup, BERTVIZ, ATTENTION, RECURRENT, DECODE, LONG, LONG_OURS])
        with JupyterServer.start(nb_dir) as server, sync_playwright() as pw:
            browser = launch_chromium(pw)
            page = browser.new_context(viewport={"width": args.width, "height": 2400},
                                       device_scale_factor=1).new_page()
            answer_cdn(page, files, net_log)
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            open_notebook(page, server, "compare.ipynb")
            page.evaluate("() => { window.jupyterapp.shell.collapseLeft(); window.jupyterapp.shell.collapseRight(); }")
            run_all_cells(page, timeout=300_000)
            for cell in (SHOTS[n] for n in SHOTS if n.startswith("ours")):
                cell_output(page, cell).locator("canvas").first.wait_for(state="attached", timeout=60_000)
            rerun_bertviz(page, args.out)
            setup_text = cell_output(page, 0).text_content()
            saved, heights = [], {}
            for theme, lab_name in THEMES.items():
                page.evaluate("t => window.jupyterapp.commands.execute('apputils:change-theme', {theme: t})", lab_name)
                page.wait_for_timeout(3000)
                saved += shoot(page, args.out, theme, heights)
                if theme == "light":
                    saved += shoot_hover(page, args.out)
            versions = kernel_eval(page, "import bertviz, transformers, torch; print(bertviz.__file__, "
                                         "transformers.__version__, torch.__version__)")
            browser.close()
    report = {"setup_output": setup_text.strip(), "versions": versions.strip(), "network": net_log,
              "page_errors": errors, "heights_px": heights, "shots": {p.name: p.stat().st_size for p in saved}}
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
