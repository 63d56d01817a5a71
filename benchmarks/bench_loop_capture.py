"""Goal (issue 22): capture of a recurrence written by hand as a loop of tensor ops costs ≤ 1.5× the plain
forward, side by side on d2l's LSTMScratch shape (T=256, batch 8, 256 hidden units, CPU).

The model is ``tests/loops/test_op_loops.py``'s LSTMScratch (parameters on the module, ``for X in inputs``,
eight matmuls per step). Under capture ``engine/loops`` watches its forward with a TorchFunctionMode that
attributes every op to its line. Once the step is known (``steady.py``, ~160 ops in: six steps) the mode
leaves torch's stack (``fast.py``): a line tracer on the forward's own frame reads, at the loop's header,
the state and the input the step left in the code's variables (``H``, ``C``, ``X``) and checks that each
step ran the lines the first ones did; the rest is re-derived when looked at (``replay.py``), and the first
and last steps so kept are re-derived when the trace is built, bitwise against the code's own state. The
recurrence is found and the LoopTrace built when the forward returns, so the figure includes it.
``--inputs`` is the width of each step's input (28: d2l's one-hot characters). The mode alone (a
TorchFunctionMode that only calls through) costs about 0.25× of this forward on CPU: the floor of any
per-op recording, which is why the later steps are not recorded op by op.

Figures (``--cpu-time --threads 1 --repeats 9``, 2026-12-07, a machine shared with seven other engineers,
load average 10–13 on 2 cores): LSTMScratch 1.70–1.85× before the fast tail (every step through the mode),
1.21–1.32× with it; makemore's GRU cell 1.68–1.77× and seed 001 1.52–1.63× (module loops: unchanged).

``--model makemore`` (makemore's RNN with its GRU cell called once per step in forward; B=32, T=64, 64 units)
and ``--model seed001`` (seed 001's nn.LSTM called once per step, T=256) time the module loops: their forward
holds a ``for``, so the op recorder watches it until the first steps show the state comes out of the cell's
call (``loops/aside.py``); further calls then run with the recorder popped. ``--threads 1`` gives stable
figures on a shared machine (with several threads, CPU time counts their waiting too).

    python benchmarks/bench_loop_capture.py [--model lstm|makemore|seed001] [--repeats 7] [--T 256] [--B 8]
        [--H 256] [--inputs 28] [--cpu-time] [--threads 1]
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
from tests.loops.test_module_loops import RNN, GRUCell  # noqa: E402
from tests.loops.test_module_loops_torch import TemporalReasoning  # noqa: E402
from tests.loops.test_op_loops import LSTMScratch  # noqa: E402


def make(a):
    """(row label, model, input, shape text) of ``--model``; makemore and seed001 take their own sizes."""
    if a.model == "makemore":
        return ("makemore RNN, GRU cell per step", RNN(GRUCell, vocab=27, n_embd=64, n_embd2=64),
                torch.randint(0, 27, (32, 64)), "T=64, B=32, H=64, CPU")
    if a.model == "seed001":
        return ("seed 001: nn.LSTM per step", TemporalReasoning(1, 64, 1), [float(i % 7) for i in range(256)],
                "T=256, B=1, H=64, CPU")
    return ("LSTMScratch (loop of ops)", LSTMScratch(a.inputs, a.H), torch.randn(a.T, a.B, a.inputs),
            f"T={a.T}, B={a.B}, H={a.H}, I={a.inputs}, CPU")


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
    ap.add_argument("--model", choices=("lstm", "makemore", "seed001"), default="lstm")
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
    label, model, x, shape = make(a)
    kept = getattr(model, "states", None)  # seed 001 keeps each step's state: emptied after each run

    def plain():
        with torch.no_grad():
            model(x)
        if kept is not None:
            kept.clear()

    def captured():
        with torch.no_grad(), capture(model) as rec:
            model(x)
        if kept is not None:
            kept.clear()
        assert len(rec.recorder.entries) == 1
    t = (cpu_side_by_side if a.cpu_time else side_by_side)({"plain": plain, "capture": captured}, repeats=a.repeats)
    ratio = t["capture"] / t["plain"]
    goal = "≤ 1.5" if a.model == "lstm" else "≈ 1.2–1.4"
    print(table([(label, f"{t['plain'] * 1e3:.1f}", f"{t['capture'] * 1e3:.1f}", f"{ratio:.3f}", goal)],
                (shape, "plain ms", "capture ms", "ratio", "goal")))
    return {"loop": ratio}


if __name__ == "__main__":
    main()
