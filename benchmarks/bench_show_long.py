"""Kernel-side cost of show() on long traces (issue 12, "Lazy all the way down").

Goals at 8 heads, E=64, CPU:
- causal attention, T=16384: show() ≤ 2 s and ≤ 200 MB above the trace's own q, k, v; a step ≤ 50 ms;
- the same at T=32768, where the first view sends ≤ 1 MiB;
- a recurrent trace (nn.GRU) at T=100k steps: show() ≤ 2 s.

Each case runs in a fresh subprocess, so peaks do not leak between cases. Memory: the process's peak
resident set (``ru_maxrss``) during show() minus its resident set just before it, with q, k, v built
(torch allocates outside Python's allocator, so tracemalloc alone would miss it; its Python-side peak is
printed too). Steps: 39 steps in order (median, mean and the worst: a step that records and sends the next
chunk of frames), and the worst of a few jumps that move the window. The widget stack is imported and
warmed by a tiny show() first, so its own memory is not counted as the trace's. Bytes: what the widgets send on their comms at show()
(``tr_widgets.testing.commlog``).

    python benchmarks/bench_show_long.py                 # every case
    python benchmarks/bench_show_long.py --case att16k --json out.json
"""
from __future__ import annotations

import argparse
import json
import pathlib
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc

CASES = {"att16k": ("attention", 16384), "att32k": ("attention", 32768), "rec100k": ("recurrent", 100_000)}
GOALS = {"show_s": 2.0, "extra_mb": 200.0, "step_ms": 50.0, "first_view_mib": 1.0}


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 1e6


def one(case: str) -> dict:
    import torch
    from torch import nn

    import tr_widgets
    from tr_widgets.testing.commlog import record_comms
    from tr_widgets.widgets import show

    kind, T = CASES[case]
    torch.manual_seed(0)
    if kind == "attention":
        q, k, v = (torch.randn(1, 8, T, 64) for _ in range(3))  # each [B=1, H=8, T, E=64]
        trace = tr_widgets.trace_attention(q, k, v, is_causal=True)
    else:
        trace = tr_widgets.trace_recurrent(nn.GRU(8, 64), torch.randn(T, 1, 8))  # [T, B=1, I=8]
    tiny = tr_widgets.trace_attention(*(torch.randn(1, 1, 4, 8) for _ in range(3)), is_causal=True)
    show(tiny, progress=False)  # the widget stack imported and warm: its RSS is not the trace's cost
    before = rss_mb()
    tracemalloc.start()
    t0 = time.perf_counter()
    with record_comms() as log:
        s = show(trace, progress=False)
        show_s = time.perf_counter() - t0
        py_peak = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3  # kB on Linux
        first = log.total()
        inside, jumps = [], []
        for i in range(1, 40):
            t0 = time.perf_counter()
            s.step = i
            inside.append(time.perf_counter() - t0)
        for i in (T // 2, T - 1, T // 3, 5):
            t0 = time.perf_counter()
            s.step = i
            jumps.append(time.perf_counter() - t0)
    return {"case": case, "T": T, "show_s": show_s, "extra_mb": max(peak - before, 0.0), "py_peak_mb": py_peak,
            "step_ms": statistics.median(inside) * 1e3, "step_max_ms": max(inside) * 1e3,
            "step_mean_ms": statistics.mean(inside) * 1e3,
            "jump_max_ms": max(jumps) * 1e3, "first_view_mib": first / 2**20, "mode": s.frames_mode}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", choices=list(CASES), action="append")
    ap.add_argument("--json")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(one(args.child)))
        return
    rows = []
    for case in args.case or list(CASES):
        out = subprocess.run([sys.executable, __file__, "--child", case], capture_output=True, text=True,
                             cwd=pathlib.Path(__file__).parents[1])
        if out.returncode:
            print(out.stderr[-3000:])
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(r)
        ok = lambda key: "ok" if r[key] <= GOALS[key] else f"MISSED x{r[key] / GOALS[key]:.1f}"  # noqa: E731
        print(f"{case}: show {r['show_s']:.2f} s ({ok('show_s')}), +{r['extra_mb']:.0f} MB RSS "
              f"({ok('extra_mb') if r['case'] != 'rec100k' else 'no goal'}; Python heap peak {r['py_peak_mb']:.0f} MB), "
              f"step median {r['step_ms']:.1f} ms, mean {r['step_mean_ms']:.1f} ms, max {r['step_max_ms']:.1f} ms "
              f"(goal on the max: {'ok' if r['step_max_ms'] <= GOALS['step_ms'] else 'MISSED'}), "
              f"jump max {r['jump_max_ms']:.0f} ms, first view {r['first_view_mib'] * 1024:.0f} KiB "
              f"({ok('first_view_mib')}), frames {r['mode']}", flush=True)
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
