"""A captured Hugging Face model at long context (issue 26): the capture's cost, and ``show`` of one layer.

Model: ``LlamaModel`` from ``LlamaConfig(2 layers, width 256, 4 heads, E=64, sdpa)`` (no download, random
weights, the stack without an LM head), batch 1, eval, ``torch.no_grad()``, CPU, one torch thread.

* time (goal ≤ 1.05): ``with capture(model): model(ids)`` against ``model(ids)`` at T=32,768, side by side
  (``common.side_by_side``, CPU time of this process: the machine is shared, and CPU time is what a busy
  machine disturbs least);
* memory (goal ≈ 1.0): ``rec.nbytes`` ÷ the bytes of every layer's q, k, v;
* ``show(rec[name])`` of layer 0 in a fresh process, inside ``asyncio.run`` as a kernel runs cells
  (``bench_long_context._session``): first view, a step, first-view bytes, and the peak resident set above
  the one with q, k, v held (the model and the rest of the record dropped first). Steps as there: 20 in
  order from 1, 20 from T-200 (the first of them moves the window: a jump), then 4 jumps each followed by the
  next step; "a step" is the max of the 39 in order and the 4 after a jump, the 5 jumps are listed; "loop
  blocked" is the longest a message posted to the loop waited, and the longest callback (wall, CPU).

    python benchmarks/bench_long_capture.py                 # T=32768
    python benchmarks/bench_long_capture.py --quick         # T=4096
"""
from __future__ import annotations

import argparse
import ctypes
import json
import os
import pathlib
import subprocess
import sys

import torch

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
from bench_long_context import GOALS, _session, rss_mb  # noqa: E402
from common import side_by_side  # noqa: E402

TIME_GOAL = 1.05


def build_model(T: int):
    import transformers
    transformers.logging.set_verbosity_error()
    cfg = transformers.LlamaConfig(num_hidden_layers=2, hidden_size=256, intermediate_size=512, num_attention_heads=4,
                                   num_key_value_heads=4, vocab_size=1000, max_position_embeddings=max(T, 32768))
    cfg._attn_implementation = "sdpa"
    torch.manual_seed(0)
    model = transformers.LlamaModel(cfg).eval()
    assert model.config._attn_implementation == "sdpa", model.config._attn_implementation
    return model, torch.randint(0, 1000, (1, T))


def cost(T: int, repeats: int) -> dict:
    from tr_widgets import capture
    model, ids = build_model(T)

    def plain():
        with torch.no_grad():
            model(ids)

    def captured():
        with torch.no_grad(), capture(model):
            model(ids)
    t = side_by_side({"plain": plain, "captured": captured}, repeats=repeats, warmup=1,
                     clock=__import__("time").process_time)
    with torch.no_grad(), capture(model) as rec:
        model(ids)
    qkv = sum(t.q.nbytes + t.k.nbytes + t.v.nbytes for _, t in rec.traces)
    return {"plain_s": t["plain"], "captured_s": t["captured"], "ratio": t["captured"] / t["plain"],
            "nbytes": rec.nbytes, "qkv_bytes": qkv, "memory_ratio": rec.nbytes / qkv}


def view(T: int) -> dict:
    """``show(rec[name])`` of layer 0: the model and the other layers dropped, the peak resident set reset."""
    import asyncio

    import tr_widgets
    from tr_widgets import capture
    from tr_widgets.widgets import show
    model, ids = build_model(T)
    with torch.no_grad(), capture(model) as rec:
        model(ids)
    name = rec.names[0]
    trace = rec[name]
    del model, rec
    show(tr_widgets.trace_attention(*(torch.randn(1, 1, 4, 8) for _ in range(3)), is_causal=True), progress=False)
    ctypes.CDLL("libc.so.6").malloc_trim(0)  # the forward's freed heap back to the system: "before" is what is live
    before = rss_mb()
    pathlib.Path("/proc/self/clear_refs").write_text("5")  # peak RSS := current, so the forward's peak is gone
    r = asyncio.run(_session(trace, T))
    hwm = next(int(x.split()[1]) for x in open("/proc/self/status") if x.startswith("VmHWM"))
    r.update(name=name, heads=trace.q.shape[1], extra_mb=max(hwm * 1024 / 1e6 - before, 0.0))
    return r


def child(what: str, T: int, repeats: int) -> dict:
    torch.set_num_threads(1)
    return cost(T, repeats) if what == "cost" else view(T)


def run(what: str, T: int, repeats: int) -> dict | None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, __file__, "--child", what, "--T", str(T), "--repeats", str(repeats)],
                         capture_output=True, text=True, env=env)
    if out.returncode:
        print(out.stderr[-3000:])
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--T", type=int, default=32768)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="T=4096")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.T, args.repeats)))
        return
    T = 4096 if args.quick else args.T
    print("uptime:", os.popen("uptime").read().strip(), flush=True)
    c = run("cost", T, args.repeats)
    if c:
        print(f"T={T}: plain {c['plain_s']:.2f} s, captured {c['captured_s']:.2f} s (CPU time, medians) → "
              f"{c['ratio']:.3f}× ({'ok' if c['ratio'] <= TIME_GOAL else 'MISSED'} ≤ {TIME_GOAL}); rec.nbytes "
              f"{c['nbytes'] / 1e6:.1f} MB ÷ q,k,v {c['qkv_bytes'] / 1e6:.1f} MB = {c['memory_ratio']:.3f}",
              flush=True)
    v = run("view", T, 1)
    if v:
        ok = lambda key: "ok" if v[key] <= GOALS[key] else "MISSED"  # noqa: E731
        ms = v["steps_ms"]  # 20 steps in order from 1, a move to T-200, 19 more in order, 4 jumps and the step after each
        walk, jumps = max(ms[:20] + ms[21:40] + ms[41::2]), [ms[20]] + ms[40::2]
        print(f"show(rec[{v['name']!r}]) ({v['heads']} heads): first view {v['first_view_s']:.2f} s "
              f"({ok('first_view_s')}), {v['first_view_mib'] * 1024:.0f} KiB ({ok('first_view_mib')}); a step "
              f"max {walk:.0f} ms ({'ok' if walk <= GOALS['step_ms'] else 'MISSED'}), "
              f"median {v['step_median_ms']:.1f} ms; jumps {jumps} ms; loop blocked max {v['blocked_ms']:.0f} ms, longest "
              f"callback {v['callback_ms']:.0f} ms (CPU {v['callback_cpu_ms']:.0f}); +{v['extra_mb']:.0f} MB "
              f"({ok('extra_mb')}); overview {v['overview_s']:.1f} s wall, {v['overview_work_s']:.1f} s work; "
              f"frames {v['mode']}", flush=True)
    print("uptime:", os.popen("uptime").read().strip(), flush=True)


if __name__ == "__main__":
    main()
