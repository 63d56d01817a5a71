"""Goal (issue 14): trace_gradients of nn.LSTM(256, 256) at T=1024, B=8 (every ∂L/∂h_t and ∂L/∂c_t,
and ∂L/∂x) costs ≤ 2.5× a plain forward + backward of the fused module, measured side by side in one run.

    python benchmarks/bench_gradients.py [--device cuda] [--T 1024] [--B 8] [--H 256] [--kind lstm]

Two plain baselines: ``loss.backward()`` (what training runs: weight gradients too) and
``autograd.grad(loss, x)`` (input gradient only, what the trace also gives). A per-step cell loop
with autograd through every h_t (what a hand-written tracer would do) is shown for reference.
"""
from __future__ import annotations

import argparse
import pathlib
import sys

import torch
from torch import nn

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from common import side_by_side, table  # noqa: E402
from tr_widgets.engine.gradients import trace_gradients  # noqa: E402

MODULES = {"lstm": (nn.LSTM, nn.LSTMCell), "gru": (nn.GRU, nn.GRUCell), "rnn": (nn.RNN, nn.RNNCell)}


def main(argv=None) -> float:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--kind", default="lstm", choices=sorted(MODULES))
    ap.add_argument("--T", type=int, default=1024)
    ap.add_argument("--B", type=int, default=8)
    ap.add_argument("--H", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=7)
    a = ap.parse_args(argv)
    torch.manual_seed(0)
    full, cell_cls = MODULES[a.kind]
    module = full(a.H, a.H).to(a.device).eval()
    cell = cell_cls(a.H, a.H).to(a.device)
    cell.load_state_dict({k.replace("_l0", ""): v for k, v in module.state_dict().items()})
    x = torch.randn(a.T, a.B, a.H, device=a.device)
    w = torch.randn(a.T, a.B, a.H, device=a.device)
    loss_fn = lambda out: (out[0] * w).sum()  # noqa: E731  every step gets a gradient

    def fwd_backward():
        module.zero_grad(set_to_none=True)
        xl = x.detach().requires_grad_()
        loss_fn(module(xl)).backward()

    def fwd_grad_x():
        xl = x.detach().requires_grad_()
        torch.autograd.grad(loss_fn(module(xl)), xl)

    def traced():
        g = trace_gradients(module, x, loss_fn)
        g.hidden(), g.inputs()
        if a.kind == "lstm":
            g.cell()

    def cell_loop():
        xl = x.detach().requires_grad_()
        h = x.new_zeros(a.B, a.H).requires_grad_()
        state, hs = (h, torch.zeros_like(h)) if a.kind == "lstm" else h, []
        for t in range(a.T):
            state = cell(xl[t], state)
            hs.append(state[0] if a.kind == "lstm" else state)
        torch.autograd.grad(loss_fn((torch.stack(hs), None)), hs + [xl])

    fns = {"fwd_backward": fwd_backward, "fwd_grad_x": fwd_grad_x, "traced": traced, "cell_loop": cell_loop}
    t = side_by_side(fns, a.device, a.repeats)
    ratio = t["traced"] / t["fwd_backward"]
    print(f"nn.{full.__name__}({a.H}, {a.H}), T={a.T}, B={a.B}, device={a.device}, torch {torch.__version__}, "
          f"threads={torch.get_num_threads()}")
    base = t["fwd_backward"]
    print(table([
        ("plain forward + loss.backward()", f"{base * 1e3:.1f}", "1.00"),
        ("plain forward + autograd.grad(loss, x)", f"{t['fwd_grad_x'] * 1e3:.1f}", f"{t['fwd_grad_x'] / base:.2f}"),
        ("trace_gradients: every ∂L/∂h_t (∂L/∂c_t), ∂L/∂x", f"{t['traced'] * 1e3:.1f}", f"{ratio:.2f}"),
        ("per-step cell loop + autograd (reference)", f"{t['cell_loop'] * 1e3:.1f}", f"{t['cell_loop'] / base:.2f}"),
    ], ("what", "median ms", "× plain forward + backward")))
    verdict = "OK" if ratio <= 2.5 else "MISSED"
    print(f"trace_gradients / (forward + backward): {ratio:.2f} (goal ≤ 2.5) -> {verdict}; "
          f"vs forward + grad(x) only: {t['traced'] / t['fwd_grad_x']:.2f}")
    return ratio


if __name__ == "__main__":
    main()
