"""Bytes the steppers send to the browser, counted on their comms (no browser needed).

Goals (issue 3, section 5):
- an AttentionStepper over T=1024 with 4 heads sends ≤ 64 KiB per step change;
- a T=4096 view opens with ≤ 1 MiB sent.

Every widget's comm is replaced by a recording one (``tr_widgets.testing.commlog``) that keeps the
size of each message: its JSON (state, buffer paths, metadata) plus its binary buffers. The fixed
Jupyter envelope (headers, HMAC signature: a few hundred bytes per message) is not counted; the
message counts are printed so it can be added. Step changes sweep steps 1..N in order (most move a
marker; every 96th moves the matrix window) plus a few long jumps.

    python benchmarks/bench_widget_bytes.py [--steps 400]
"""
from __future__ import annotations

import argparse
import pathlib
import statistics
import sys

import torch
from torch import nn

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import tr_widgets  # noqa: E402
from common import table  # noqa: E402
from tr_widgets.widgets import show  # noqa: E402
from tr_widgets.testing.commlog import record_comms  # noqa: E402

KiB, MiB = 1024, 1024 * 1024


def attention(T: int, heads: int, E: int = 64):
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(1, heads, T, E, generator=g) for _ in range(3))  # each [B=1, heads, T, E]
    return tr_widgets.trace_attention(q, k, v, is_causal=True, tokens=[f"tok{i}" for i in range(T)])


def recurrent(T: int, H: int = 256):
    torch.manual_seed(0)
    return tr_widgets.trace_recurrent(nn.LSTM(32, H), torch.randn(T, 1, 32))


def measure(trace, steps: int) -> dict:
    """Open bytes, then the bytes of each step change (in order, then long jumps), then a selector change."""
    with record_comms() as log:
        s = show(trace, progress=False)
    opened, open_msgs = log.total(), log.count()
    n = s.controller.n_steps
    sizes, msgs = [], []
    for i in list(range(1, min(steps, n))) + [n - 1, 0, n // 2]:
        log.clear()
        s.step = i
        sizes.append(log.total())
        msgs.append(log.count())
    selector = next((name for name, dd in s.controller.selectors.items() if len(dd.options) > 1), None)
    sel = None
    if selector:
        log.clear()
        s.select(**{selector: 1})
        sel = (selector, log.total())
    return {"open": opened, "open_msgs": open_msgs, "step_max": max(sizes), "step_mean": statistics.mean(sizes),
            "step_median": statistics.median(sizes), "step_msgs": statistics.median(msgs), "selector": sel}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=400)
    a = ap.parse_args(argv)
    cases = [("AttentionStepper T=1024, 4 heads", attention(1024, 4)),
             ("AttentionStepper T=4096, 4 heads", attention(4096, 4)),
             ("RecurrentStepper LSTM T=4096, H=256", recurrent(4096)),
             ("AttentionStepper T=16, 4 heads (small)", attention(16, 4))]
    results, rows = {}, []
    for name, trace in cases:
        r = results[name] = measure(trace, a.steps)
        sel = f"{r['selector'][0]}: {r['selector'][1] / KiB:.1f}" if r["selector"] else "–"
        rows.append((name, f"{r['open'] / KiB:.1f} ({r['open_msgs']} msgs)", f"{r['step_median'] / KiB:.1f}",
                     f"{r['step_mean'] / KiB:.1f}", f"{r['step_max'] / KiB:.1f}", f"{r['step_msgs']:.0f}", sel))
    print(f"torch {torch.__version__}; payload bytes = JSON + binary buffers, Jupyter envelope not counted")
    print(table(rows, ("view", "open KiB", "step median KiB", "step mean KiB", "step max KiB",
                       "msgs/step", "selector change KiB")))
    att = results["AttentionStepper T=1024, 4 heads"]
    big = max(results["AttentionStepper T=4096, 4 heads"]["open"], results["RecurrentStepper LSTM T=4096, H=256"]["open"])
    ok1, ok2 = att["step_max"] <= 64 * KiB, big <= MiB
    print(f"T=1024 × 4 heads, worst step change: {att['step_max'] / KiB:.1f} KiB (goal ≤ 64 KiB) -> "
          f"{'OK' if ok1 else 'MISSED'}")
    print(f"T=4096 view opens with: {big / KiB:.1f} KiB (goal ≤ 1024 KiB) -> {'OK' if ok2 else 'MISSED'}")
    return results


if __name__ == "__main__":
    main()
