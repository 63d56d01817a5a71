"""Click-to-repaint in headless Chromium: an AttentionStepper at T=16 and at T=2048, and a trivial
ipywidgets Label update as the floor, measured side by side in one JupyterLab page.

Goal (issue 3, section 5): the T=2048 median is within 2x of the T=16 median; about 40 ms
click-to-DOM for the Label is the floor. Clicks go round-robin over the three widgets, so drift in
machine load hits all three alike.

A time is measured inside the page with performance.now(): from just before the "next step" button's
click() to the moment the widget shows the next step: every view that marked step s with its
`data-step` attribute (the widgets set it after drawing) marks s+1; the Label, which has none,
counts when its text changes (a MutationObserver). "paint" adds the wait for the next animation
frame. "python step" is the kernel's share alone: the median time of `stepper.step += 1` in Python
(views recomputed, messages queued); "views" is how many views each click waited for.

It runs twice by default: against a stock jupyter_server, which is what users get (Nagle's
algorithm is on for kernel websockets, so about half of all replies wait ~40 ms for a delayed ACK
and the times are bimodal), and against one with TCP_NODELAY set, where the times show the
widgets' own cost. The ratio is printed for both. Needs /usr/bin/chromium (`make chromium`).

Example::

    python benchmarks/bench_browser_repaint.py            # 10 clicks per widget
    python benchmarks/bench_browser_repaint.py --clicks 20 --server nodelay --json out.json
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "browser"))
from browser_harness import (  # noqa: E402
    JupyterServer, NetworkLog, button, cell_output, chromium_missing_reason, kernel_eval,
    launch_chromium, open_notebook, page_error_texts, run_all_cells, write_notebook,
)

FLOOR = """\
import ipywidgets as w
label = w.Label("step 0")
nxt = w.Button(description=">", tooltip="next step")
nxt.on_click(lambda _: setattr(label, "value", f"step {int(label.value[5:]) + 1}"))
floor = w.HBox([nxt, label])
floor"""
SETUP = """\
import torch, tr_widgets
from tr_widgets.widgets import show
torch.manual_seed(0)
def attention(T, heads=4, E=32):
    q, k, v = torch.randn(3, 1, heads, T, E).unbind(0)  # each [B=1, heads, T, E]
    return show(tr_widgets.trace_attention(q, k, v, is_causal=True))
def python_step_ms(stepper, n):
    # median time of a step change in the kernel alone (views recomputed, messages queued)
    import time
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        stepper.step = (stepper.step + 1) % stepper.controller.n_steps
        times.append(time.perf_counter() - t0)
    return sorted(times)[n // 2] * 1e3"""
CASES = [  # (label, cell source, variable, cell index)
    ("ipywidgets Label (floor)", FLOOR, "floor", 0),
    ("AttentionStepper T=16", "att16 = attention(16)\natt16", "att16", 2),
    ("AttentionStepper T=2048", "att2048 = attention(2048)\natt2048", "att2048", 3),
]

# One click on `root`'s "next step" button; resolves with {dom, paint} in ms after the click.
# "Shown" means: every view in `root` that marked step s (data-step, set by the widgets after they
# drew) now marks s+1; a widget without data-step (the Label floor) counts when its text changes.
CLICK_JS = """async ([root, btn]) => {
  const marks = () => [...root.querySelectorAll('[data-step]')];
  const before = marks().map(e => e.dataset.step), text0 = root.textContent;
  const s = before.length ? Math.max(...before.map(Number)) : null;
  const following = before.filter(v => Number(v) === s).length;
  // re-queried each time: an HTML widget replaces its elements rather than editing them
  const done = () => {
    if (s === null) return root.textContent !== text0;
    const now = marks().map(e => Number(e.dataset.step));
    return !now.includes(s) && now.filter(v => v === s + 1).length >= following;
  };
  const shown = new Promise((resolve, reject) => {
    const mo = new MutationObserver(() => {
      if (done()) { mo.disconnect(); resolve(performance.now()); }
    });
    mo.observe(root, {subtree: true, childList: true, characterData: true, attributes: true});
    setTimeout(() => { mo.disconnect(); reject(new Error('no repaint within 20 s')); }, 20000);
  });
  // on screen, as a user's click would be (JupyterLab skips rendering cells out of view)
  root.scrollIntoView({block: 'nearest'});
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  const t0 = performance.now();
  btn.click();
  const t1 = await shown;
  await new Promise(r => requestAnimationFrame(r));
  return {dom: t1 - t0, paint: performance.now() - t0, views: following};
}"""


def measure(clicks: int, nodelay: bool = False, warmup: int = 2) -> dict:
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="bench_repaint_"))
    root = tmp / "notebooks"
    root.mkdir()
    cells = [CASES[0][1], SETUP] + [c[1] for c in CASES[1:]]
    write_notebook(root / "repaint.ipynb", cells)
    server = JupyterServer.start(root, nodelay=nodelay)
    try:
        with sync_playwright() as pw:
            browser = launch_chromium(pw)
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            page.set_default_timeout(120_000)
            log = NetworkLog(page)
            open_notebook(page, server, "repaint.ipynb")
            run_all_cells(page, timeout=300_000)
            errors = page_error_texts(page) + log.widget_errors()
            if errors:
                raise RuntimeError(f"widgets did not render: {errors}")
            targets = []
            for name, _, var, cell in CASES:
                out = cell_output(page, cell)
                btn = button(out, "next step")
                btn.wait_for()
                targets.append((name, var, out.element_handle(), btn.element_handle()))
            times = {name: {"dom": [], "paint": [], "views": []} for name, *_ in CASES}
            for k in range(warmup + clicks):
                if k and k % 12 == 0:  # T=16 has 16 queries: start again before the last one
                    kernel_eval(page, "; ".join(f"{v}.step = 0" for _, _, v, _ in CASES[1:]))
                    page.wait_for_timeout(1000)
                for name, var, out, btn in targets:  # round-robin: side by side
                    t = page.evaluate(CLICK_JS, [out, btn])
                    if k >= warmup:
                        for key in ("dom", "paint", "views"):
                            times[name][key].append(t[key])
                    page.wait_for_timeout(150)  # let the kernel settle between clicks
            for name, var, *_ in targets[1:]:
                times[name]["python"] = float(kernel_eval(page, f"python_step_ms({var}, {clicks})"))
            browser.close()
    finally:
        server.stop()
    return {"times": times, "clicks": clicks, "nodelay": nodelay}


def report(result: dict) -> str:
    server = ("jupyter_server with TCP_NODELAY on kernel websockets (no ~40 ms Nagle stall)"
              if result["nodelay"] else "stock jupyter_server (Nagle on: replies may stall ~40 ms)")
    rows = [server, f"{'widget':<28}{'click→DOM':>12}{'click→paint':>14}{'DOM min..max':>18}"
                    f"{'python step':>14}{'views':>7}"]
    med = {}
    for name, t in result["times"].items():
        med[name] = statistics.median(t["dom"]), statistics.median(t["paint"])
        views = max(t["views"]) if t["views"] else 0
        py = f"{t['python']:.1f} ms" if "python" in t else "-"
        rows.append(f"{name:<28}{med[name][0]:>9.1f} ms{med[name][1]:>11.1f} ms"
                    f"{min(t['dom']):>9.1f}..{max(t['dom']):.1f} ms{py:>14}{views or 'text':>7}")
    small, large = med["AttentionStepper T=16"], med["AttentionStepper T=2048"]
    rows.append(f"ratio T=2048 / T=16: {large[0] / small[0]:.2f}x click→DOM, "
                f"{large[1] / small[1]:.2f}x click→paint (goal ≤ 2x); medians of "
                f"{result['clicks']} clicks each, headless Chromium")
    return "\n".join(rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clicks", type=int, default=10)
    ap.add_argument("--server", choices=["stock", "nodelay", "both"], default="both",
                    help="stock jupyter_server, one with TCP_NODELAY, or both (default)")
    ap.add_argument("--json", type=Path, help="also write the raw times here")
    args = ap.parse_args(argv)
    if reason := chromium_missing_reason():
        print(f"bench_browser_repaint: skipped, {reason}")
        return 0
    results = []
    for nodelay in {"stock": [False], "nodelay": [True], "both": [False, True]}[args.server]:
        results.append(measure(args.clicks, nodelay=nodelay))
        print(report(results[-1]), end="\n\n", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
