"""Goal (issue 2): a fully materialised trace (all gates and cell states) of nn.LSTM(256, 256) at
T=1024, B=8 costs ≤ 1.5× a plain nn.LSTM forward, measured side by side in one run.

    python benchmarks/bench_lstm_trace.py [--device cuda] [--T 1024] [--B 8]

A per-step nn.LSTMCell loop (what a hand-written tracer would do) is shown for reference.
"""
from __future__ import annotations

import argparse
import pathlib
import sys

import torch
from torch import nn

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import tr_widgets  # noqa: E402
from common import side_by_side, table  # noqa: E402


def main(argv=None) -> float:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--T", type=int, default=1024)
    ap.add_argument("--B", type=int, default=8)
    ap.add_argument("--H", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=7)
    a = ap.parse_args(argv)
    torch.manual_seed(0)
    lstm = nn.LSTM(a.H, a.H).to(a.device).eval()
    cell = nn.LSTMCell(a.H, a.H).to(a.device)
    cell.load_state_dict({k.replace("_l0", ""): v for k, v in lstm.state_dict().items()})
    x = torch.randn(a.T, a.B, a.H, device=a.device)

    def plain():
        with torch.no_grad():
            lstm(x)

    def traced():
        tr = tr_widgets.trace_recurrent(lstm, x)
        tr.gates(), tr.cell()  # materialise every gate and cell state

    def cell_loop():
        with torch.no_grad():
            h = c = torch.zeros(a.B, a.H, device=a.device)
            for t in range(a.T):
                h, c = cell(x[t], (h, c))

    t = side_by_side({"plain": plain, "traced": traced, "cell_loop": cell_loop}, a.device, a.repeats)
    ratio = t["traced"] / t["plain"]
    print(f"nn.LSTM({a.H}, {a.H}), T={a.T}, B={a.B}, device={a.device}, torch {torch.__version__}, "
          f"threads={torch.get_num_threads()}")
    print(table([
        ("plain nn.LSTM forward", f"{t['plain'] * 1e3:.1f}", "1.00"),
        ("trace_recurrent + all gates + cell states", f"{t['traced'] * 1e3:.1f}", f"{ratio:.2f}"),
        ("per-step nn.LSTMCell loop (reference)", f"{t['cell_loop'] * 1e3:.1f}", f"{t['cell_loop'] / t['plain']:.2f}"),
    ], ("what", "median ms", "× plain")))
    print(f"LSTM trace ratio: {ratio:.2f} (goal ≤ 1.5) -> {'OK' if ratio <= 1.5 else 'MISSED'}")
    return ratio


if __name__ == "__main__":
    main()
