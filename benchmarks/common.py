"""Side-by-side timing: candidates are interleaved round by round, so drift hits all of them alike."""
from __future__ import annotations

import statistics
import time

import torch


def sync(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def side_by_side(fns: dict, device="cpu", repeats: int = 7, warmup: int = 2,
                 clock=time.perf_counter) -> dict[str, float]:
    """Median seconds of each callable, measured in interleaved rounds within one run. ``clock``:
    ``time.process_time`` measures this process's CPU time instead, which a busy machine disturbs far less
    than wall time (use it with one torch thread; wall time stays the default, and the only one on a GPU)."""
    times = {name: [] for name in fns}
    for r in range(warmup + repeats):
        for name, fn in fns.items():
            sync(device)
            t0 = clock()
            fn()
            sync(device)
            if r >= warmup:
                times[name].append(clock() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


def table(rows: list[tuple], headers: tuple) -> str:
    """A GitHub-markdown table, so figures can be pasted into the README as printed."""
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)
