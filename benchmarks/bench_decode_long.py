"""Decode with a long prompt (issue 26): per-tick cost against ``generate``, and the DecodeStepper's first view.

The shipped tiny model covers 64 positions, so the model is a tiny Llama built from a config (2 layers,
width 64, 4 heads, sdpa, no download, random weights), greedy, KV cache on, CPU, one torch thread.

* per tick (goal ≤ 1.1× generate): ``decode(model, ids, N)`` against ``model.generate(ids, N, greedy)``,
  side by side (``common.side_by_side``, CPU time of this process: the machine is shared), each ÷ N; tick
  0 is the prompt's prefill, the same in both;
* the stepper (goals of the long-context view: ≤ 1 s, ≤ 1 MiB): ``show(trace)`` of the decode trace (wall
  and CPU time: on a loaded machine the wall time is mostly waiting for a core), the bytes its widgets
  send (``tr_widgets.testing.commlog``), then a step to the last tick.

    python benchmarks/bench_decode_long.py                  # prompt 16384 tokens, 8 new
    python benchmarks/bench_decode_long.py --quick          # prompt 2048
"""
from __future__ import annotations

import argparse
import os
import pathlib
import sys
import time

import torch

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
from common import side_by_side  # noqa: E402

from tr_widgets.engine.decode import decode  # noqa: E402


def llama(positions: int):
    import transformers
    transformers.logging.set_verbosity_error()
    cfg = transformers.LlamaConfig(num_hidden_layers=2, hidden_size=64, intermediate_size=128, num_attention_heads=4,
                                   num_key_value_heads=4, vocab_size=1000, max_position_embeddings=positions,
                                   bos_token_id=0, eos_token_id=0, pad_token_id=0)
    cfg._attn_implementation = "sdpa"
    torch.manual_seed(0)
    return transformers.LlamaForCausalLM(cfg).eval()


def first_view(trace) -> dict:
    from tr_widgets.testing.commlog import record_comms
    from tr_widgets.widgets import show
    with record_comms() as log:
        t0, c0 = time.perf_counter(), time.process_time()
        s = show(trace, progress=False)
        first, first_cpu = time.perf_counter() - t0, time.process_time() - c0
        first_bytes = log.total()
        t0 = time.perf_counter()
        s.step = len(trace) - 1
        step = time.perf_counter() - t0
    return {"first_view_s": first, "first_view_cpu_s": first_cpu, "first_view_mib": first_bytes / 2**20,
            "step_ms": step * 1e3}


def main(argv=None) -> float:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompt", type=int, default=16384)
    ap.add_argument("--tokens", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="a 2048-token prompt")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    P, N = (2048 if a.quick else a.prompt), a.tokens
    print("uptime:", os.popen("uptime").read().strip(), flush=True)
    model = llama(P + N + 8)
    ids = torch.randint(1, 1000, (1, P), generator=torch.Generator().manual_seed(1))
    ones = torch.ones_like(ids)

    def generate():
        with torch.no_grad():
            return model.generate(ids, attention_mask=ones, max_new_tokens=N, min_new_tokens=N, do_sample=False,
                                  pad_token_id=0)

    def traced():
        return decode(model, ids, N)
    same = generate()[0, P:].tolist() == traced().new_ids
    t = side_by_side({"generate": generate, "decode": traced}, repeats=a.repeats, warmup=1, clock=time.process_time)
    ratio = t["decode"] / t["generate"]
    print(f"Llama (2 layers, width 64, 4 heads), prompt {P} + {N} new, greedy, cache on, CPU time: generate "
          f"{t['generate'] / N * 1e3:.1f} ms/tick, decode {t['decode'] / N * 1e3:.1f} ms/tick → {ratio:.3f}× "
          f"({'ok' if ratio <= 1.1 else 'MISSED'} ≤ 1.1); same tokens: {same}", flush=True)
    v = first_view(traced())
    print(f"DecodeStepper: first view {v['first_view_s']:.2f} s wall ({'ok' if v['first_view_s'] <= 1 else 'MISSED'}), "
          f"{v['first_view_cpu_s']:.2f} s CPU, "
          f"{v['first_view_mib'] * 1024:.0f} KiB ({'ok' if v['first_view_mib'] <= 1 else 'MISSED'}); "
          f"a step to the last tick {v['step_ms']:.0f} ms", flush=True)
    print("uptime:", os.popen("uptime").read().strip(), flush=True)
    return ratio


if __name__ == "__main__":
    main()
