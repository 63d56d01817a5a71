"""Side-by-side timing: candidates are interleaved round by round, so drift hits all of them alike."""
from __future__ import annotations

import statistics
import time

import torch


def sync(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def side_by_side(fns: dict, device="cpu", repeats: int = 7, warmup: int = 2) -> dict[str, float]:
    """Median seconds of each callable, measured in interleaved rounds within one run."""
    times = {name: [] for name in fns}
    for r in range(warmup + repeats):
        for name, fn in fns.items():
            sync(device)
            t0 = time.perf_counter()
            fn()
            sync(device)
            if r >= warmup:
                times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


def table(rows: list[tuple], headers: tuple) -> str:
    """A GitHub-markdown table, so figures can be pasted into the README as printed."""
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)
