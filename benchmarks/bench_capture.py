"""What ``tr_widgets.capture`` costs on a GPT-2-shaped model, measured side by side with the plain forward.

Model: Hugging Face ``GPT2Model`` built from ``GPT2Config(n_layer=6, n_head=8, n_embd=256)`` (no download,
random weights, its default sdpa attention; the transformer stack without an LM head, so a large vocabulary
projection does not dilute the ratio), batch 1, eval mode, ``torch.no_grad()``.

* time (goal ≤ 1.10): ``with capture(model): model(ids)`` against ``model(ids)`` at T=1024, alternated in one
  run after a warm-up; the median of each is compared.
* memory (goal ≤ 1.25), T=2048: the bytes of the distinct storages the record holds (``rec.nbytes``) over the
  bytes of the q, k and v tensors of all layers (the least that allows exact recomputation). For comparison,
  the bytes that materialising the four score stages (scores, scaled, masked, weights) of every layer would take.

Runs on CPU, and on CUDA too when available. Usage: ``python benchmarks/bench_capture.py [--repeats N]``.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import sync  # noqa: E402
from tr_widgets.engine.capture import capture  # noqa: E402

TIME_GOAL, MEMORY_GOAL = 1.10, 1.25


def build_model(device: str):
    import transformers

    transformers.logging.set_verbosity_error()
    cfg = transformers.GPT2Config(n_layer=6, n_head=8, n_embd=256, vocab_size=1000, n_positions=2048,
                                  bos_token_id=0, eos_token_id=0)
    torch.manual_seed(0)
    model = transformers.GPT2Model(cfg).to(device).eval()
    assert model.config._attn_implementation == "sdpa", model.config._attn_implementation
    return model


def time_ratio(model, device: str, T: int, repeats: int, via: str = "patch") -> tuple[float, float]:
    ids = torch.randint(0, 1000, (1, T), device=device)
    plain, captured = [], []

    def run(under_capture: bool) -> float:
        sync(device)
        t0 = time.perf_counter()
        with torch.no_grad():
            if under_capture:
                with capture(model, via=via) as rec:
                    model(ids)
            else:
                model(ids)
        sync(device)
        dt = time.perf_counter() - t0
        if under_capture:
            assert len(rec.recorder.entries) == 6  # recorded, not built: building happens when someone looks
        return dt

    for _ in range(2 if device == "cpu" else 5):  # warm-up (allocator, kernels, lazy imports)
        run(False), run(True)
    for i in range(repeats):  # alternate, so drift (thermal, other jobs) hits both sides alike
        order = (False, True) if i % 2 == 0 else (True, False)
        for under in order:
            (captured if under else plain).append(run(under))
    return statistics.median(plain), statistics.median(captured)


def memory(model, device: str, T: int) -> dict:
    ids = torch.randint(0, 1000, (1, T), device=device)
    with torch.no_grad(), capture(model) as rec:
        model(ids)
    held = rec.nbytes  # before any trace is built: what the capture itself keeps
    traces = [t for _, t in rec.traces]
    qkv = sum(t.q.nbytes + t.k.nbytes + t.v.nbytes for t in traces)
    stage = sum(4 * torch.Size(t.batch_shape + (t.L, t.S)).numel() * t.q.element_size() for t in traces)
    return {"held": held, "held_built": rec.nbytes, "qkv": qkv, "stages": stage, "n": len(traces)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=None, help="timed runs per side (default: cpu 15, cuda 30)")
    ap.add_argument("--T", type=int, default=1024, help="sequence length for the time ratio")
    ap.add_argument("--T-memory", type=int, default=2048, help="sequence length for the memory ratio")
    ap.add_argument("--devices", default=None, help="comma-separated, default: cpu and cuda if available")
    ap.add_argument("--compare-mode", action="store_true",
                    help="also time capture(via='mode') (a TorchFunctionMode; no goal, for reference)")
    args = ap.parse_args(argv)
    devices = args.devices.split(",") if args.devices else ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print("capture benchmark: HF GPT2Model (6 layers, 8 heads, width 256, default sdpa attention), batch 1, "
          f"torch {torch.__version__}")
    mib = lambda n: f"{n / 2**20:9.1f} MiB"
    ok = True
    rows = []
    for dev in devices:
        model = build_model(dev)
        reps = args.repeats or (15 if dev == "cpu" else 30)
        plain, cap = time_ratio(model, dev, args.T, reps)
        mode = time_ratio(model, dev, args.T, reps, via="mode") if args.compare_mode else None
        mem = memory(model, dev, args.T_memory)
        tr, mr = cap / plain, mem["held"] / mem["qkv"]
        ok &= tr <= TIME_GOAL and mr <= MEMORY_GOAL
        rows.append((dev, plain, cap, tr, reps, mem, mr, mode))
    print(f"\n{'device':7} {'T':>5} {'plain ms':>10} {'capture ms':>11} {'ratio':>6}  goal      repeats")
    for dev, plain, cap, tr, reps, mem, mr, mode in rows:
        print(f"{dev:7} {args.T:5d} {plain * 1e3:10.2f} {cap * 1e3:11.2f} {tr:6.3f}  <= {TIME_GOAL:.2f} "
              f"{'ok ' if tr <= TIME_GOAL else 'MISS'} {reps:4d} (median)")
        if mode:
            print(f"{'':7} {'':5} {mode[0] * 1e3:10.2f} {mode[1] * 1e3:11.2f} {mode[1] / mode[0]:6.3f}  "
                  f"(capture(via='mode'): a TorchFunctionMode, for reference)")
    print(f"\n{'device':7} {'T':>5} {'capture holds':>14} {'q,k,v (all layers)':>19} {'ratio':>6}  goal       "
          f"{'4 score stages':>15} {'x q,k,v':>8}")
    for dev, plain, cap, tr, reps, mem, mr, mode in rows:
        print(f"{dev:7} {args.T_memory:5d} {mib(mem['held']):>14} {mib(mem['qkv']):>19} {mr:6.3f}  <= "
              f"{MEMORY_GOAL:.2f} {'ok ' if mr <= MEMORY_GOAL else 'MISS'} {mib(mem['stages']):>15} "
              f"{mem['stages'] / mem['qkv']:7.1f}x")
        print(f"{'':7} {'':5} after building the {mem['n']} traces: {mib(mem['held_built']).strip()} "
              f"({mem['held_built'] / mem['qkv']:.3f}x; stages stay lazy)")
    print("\nall goals met" if ok else "\nsome goal missed")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
