"""Goal (issue 22): capture of a recurrence written by hand as a loop of tensor ops costs ≤ 1.5× the plain
forward, side by side on d2l's LSTMScratch shape (T=256, batch 8, 256 hidden units, CPU).

The model is ``tests/loops/test_op_loops.py``'s LSTMScratch (parameters on the module, ``for X in inputs``,
eight matmuls per step). Under capture ``engine/loops`` watches its forward with a TorchFunctionMode that
attributes every op to its line; once the step is known (``steady.py``, ~500 ops in) each further step keeps
only its state and input, the rest re-derived when looked at; the recurrence is found and the LoopTrace
built when the forward returns, so the figure includes it. ``--inputs`` is the width of each step's input
(28: d2l's one-hot characters). The mode alone (a TorchFunctionMode that only calls through) costs about
0.25× of this forward on CPU: the floor of any per-op recording.

    python benchmarks/bench_loop_capture.py [--repeats 7] [--T 256] [--B 8] [--H 256] [--inputs 28] [--cpu-time]
"""
from __future__ import annotations

import argparse
import pathlib
import statistics
import sys
import time

import torch

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(pathlib.Path(__file__).parent))
sys.path.insert(0, str(ROOT))
from common import side_by_side, table  # noqa: E402

from tr_widgets.engine.capture import capture  # noqa: E402
from tests.loops.test_op_loops import LSTMScratch  # noqa: E402


def cpu_side_by_side(fns: dict, repeats: int, warmup: int = 2) -> dict[str, float]:
    """Like ``common.side_by_side`` (interleaved rounds, medians), by CPU time: other jobs' load does not count."""
    times = {name: [] for name in fns}
    for r in range(warmup + repeats):
        for name, fn in fns.items():
            t0 = time.process_time()
            fn()
            if r >= warmup:
                times[name].append(time.process_time() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--T", type=int, default=256)
    ap.add_argument("--B", type=int, default=8)
    ap.add_argument("--H", type=int, default=256)
    ap.add_argument("--inputs", type=int, default=28)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--cpu-time", action="store_true",
                    help="time each run by this process's CPU time (a machine shared with other jobs)")
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = LSTMScratch(a.inputs, a.H)
    x = torch.randn(a.T, a.B, a.inputs)

    def plain():
        with torch.no_grad():
            model(x)

    def captured():
        with torch.no_grad(), capture(model) as rec:
            model(x)
        assert len(rec.recorder.entries) == 1
    t = (cpu_side_by_side if a.cpu_time else side_by_side)({"plain": plain, "capture": captured}, repeats=a.repeats)
    ratio = t["capture"] / t["plain"]
    print(table([("LSTMScratch (loop of ops)", f"{t['plain'] * 1e3:.1f}", f"{t['capture'] * 1e3:.1f}",
                  f"{ratio:.3f}", "≤ 1.5")],
                (f"T={a.T}, B={a.B}, H={a.H}, I={a.inputs}, CPU", "plain ms", "capture ms", "ratio", "goal")))
    return {"loop": ratio}


if __name__ == "__main__":
    main()
