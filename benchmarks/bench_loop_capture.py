"""Goal (issue 22): capture of a recurrence written by hand as a loop of tensor ops costs ≤ 1.5× the plain
forward, side by side on d2l's LSTMScratch shape (T=256, batch 8, 256 hidden units, CPU).

The model is ``tests/loops/test_op_loops.py``'s LSTMScratch (parameters on the module, ``for X in inputs``,
eight matmuls per step). Under capture ``engine/loops`` watches its forward with a TorchFunctionMode that
attributes every op to its line, keeps every intermediate by reference, and finds the recurrence at return
(the LoopTrace is built then, so the figure includes it). ``--inputs`` is the width of each step's input
(28: d2l's one-hot characters).

    python benchmarks/bench_loop_capture.py [--repeats 7] [--T 256] [--B 8] [--H 256] [--inputs 28]
"""
from __future__ import annotations

import argparse
import pathlib
import sys

import torch

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(pathlib.Path(__file__).parent))
sys.path.insert(0, str(ROOT))
from common import side_by_side, table  # noqa: E402

from tr_widgets.engine.capture import capture  # noqa: E402
from tests.loops.test_op_loops import LSTMScratch  # noqa: E402


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--T", type=int, default=256)
    ap.add_argument("--B", type=int, default=8)
    ap.add_argument("--H", type=int, default=256)
    ap.add_argument("--inputs", type=int, default=28)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
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
    t = side_by_side({"plain": plain, "capture": captured}, repeats=a.repeats)
    ratio = t["capture"] / t["plain"]
    print(table([("LSTMScratch (loop of ops)", f"{t['plain'] * 1e3:.1f}", f"{t['capture'] * 1e3:.1f}",
                  f"{ratio:.3f}", "≤ 1.5")],
                (f"T={a.T}, B={a.B}, H={a.H}, I={a.inputs}, CPU", "plain ms", "capture ms", "ratio", "goal")))
    return {"loop": ratio}


if __name__ == "__main__":
    main()
