"""Where the overview's time goes (issue 26: the whole overview within 1.5× one plain matmul of its FLOPs).

One process, one torch thread, CPU time (``time.process_time``): this tree's ``overview_bands`` and the one
of ``--base`` (its overview.py loaded beside this tree's, the rest of the package shared) are run in
interleaved rounds, each against the same plain ``torch.matmul`` [131072, 64] @ [64, 512] into a buffer
(the bound of bench_long_context.py). Causal, E=64, one head; pooling factors T/256 as the widgets pick them,
or ``--factor 512``: T=131072's, so that a shorter run has its chunks (512 rows × 1024 keys, blocks of 512
keys), only fewer of them.

Printed: the best (least disturbed) round of each, as a ratio to the bound, and the passes over one chunk
timed alone at a few shapes (the floor: what the overview costs with no overhead between passes).

    python benchmarks/bench_overview_passes.py --base /tmp/base8 --T 32768 --factor 512 --rounds 7
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import pathlib
import sys
import time

import torch

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
E = 64


def load_overview(tree: pathlib.Path):
    """``tree``'s overview.py as a module of its own, importing the rest from this tree's package."""
    src = (tree / "tr_widgets/engine/attention/overview.py").read_text()
    src = src.replace("from ..errors", "from tr_widgets.engine.errors").replace(
        "from .trace", "from tr_widgets.engine.attention.trace")
    spec = importlib.util.spec_from_loader(f"overview_{abs(hash(str(tree)))}", loader=None)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # (its dataclass looks itself up there)
    exec(compile(src, str(tree / "overview.py"), "exec"), mod.__dict__)
    return mod


def ref_seconds_per_flop(a, b, out) -> float:
    t0 = time.process_time()
    torch.matmul(a, b, out=out)
    return (time.process_time() - t0) / (2 * E * a.shape[0] * b.shape[1])


def passes(n: int, c: int, fc: int, reps: int = 20) -> dict[str, float]:
    """Seconds of each pass over one [n, c] chunk of base-2 scores, alone (best of 5 runs of ``reps``)."""
    q, k = torch.randn(n, E) * 0.18, torch.randn(c, E)
    s, src = torch.empty(n, c), torch.empty(n, c)
    torch.matmul(q, k.T, out=src)
    after = torch.arange(c)[None, :] > torch.arange(n)[:, None] + (c - n)

    def t(fn):
        best = float("inf")
        for _ in range(5):
            t0 = time.process_time()
            for _ in range(reps):
                fn()
            best = min(best, (time.process_time() - t0) / reps)
        return best
    copy = t(lambda: s.copy_(src))
    return {"matmul": t(lambda: torch.matmul(q, k.T, out=s)),
            "exp2": t(lambda: s.copy_(src).exp2_()) - copy,
            "block max": t(lambda: s.view(n, -1, fc).amax(-1)),
            "sum": t(lambda: s.sum(-1)),
            "row max": t(lambda: s.amax(-1)),
            "causal mask (diagonal chunks)": t(lambda: s.copy_(src).masked_fill_(after, float("-inf"))) - copy,
            "small op": t(lambda: s[:, :1].abs())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--T", type=int, default=32768)
    ap.add_argument("--base", help="a checkout of the code before (e.g. /tmp/base8)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--factor", type=int, help="pooling factor (default T/256, as the widgets)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    import tr_widgets
    T, fac = args.T, args.factor or max(1, args.T // 256)
    torch.manual_seed(0)
    trace = tr_widgets.trace_attention(*(torch.randn(1, 1, T, E) for _ in range(3)), is_causal=True)
    trees = {"new": ROOT} | ({"before": pathlib.Path(args.base)} if args.base else {})
    mods = {name: load_overview(tree) for name, tree in trees.items()}
    a, b, out = torch.randn(131072, E), torch.randn(E, 512), torch.empty(131072, 512)
    flops = 2 * E * T * (T + 1) / 2
    ref, best = float("inf"), {name: float("inf") for name in mods}
    print("load:", open("/proc/loadavg").read().strip(), flush=True)
    for _ in range(args.rounds):
        ref = min(ref, ref_seconds_per_flop(a, b, out))
        for name, mod in mods.items():
            t0 = time.process_time()
            for _ in mod.overview_bands(trace, (0, 0), (fac, fac)):
                pass
            best[name] = min(best[name], time.process_time() - t0)
    rows, keys = mods["new"].plan(trace, (fac, fac))
    print(f"T={T}, factors {fac}, chunks {rows}×{keys}: matmul {1 / ref / 1e9:.1f} GFLOP/s, bound "
          f"{flops * ref:.2f} s; " + ", ".join(f"{n} {best[n]:.2f} s = {best[n] / (flops * ref):.3f}×" for n in best))
    for n, c in [(256, 1024), (512, 1024), (512, 2048)]:
        p = passes(n, c, min(512, c))
        bound = 2 * E * n * c * ref
        print(f"  one {n}×{c} chunk alone, × its bound: " + ", ".join(f"{k} {v / bound:.3f}" for k, v in p.items()))
    print("load:", open("/proc/loadavg").read().strip(), "cpu", os.cpu_count())


if __name__ == "__main__":
    main()
