"""Issue 11, "the clock on a state-space model": per-tick time of decoding at positions 16 … 1024, a tiny Mamba
beside a tiny GPT-2 of similar size (both built from configs, CPU, greedy, cache on), and the bytes each
model's cache holds per layer at those positions (measured on the cache object, ``DecodeTrace.layer_bytes``).

A Mamba tick reads and writes a fixed state; a GPT-2 tick attends over every cached position and its
DynamicCache appends (a copy of) the keys and values: its time and bytes grow with the position.

    python benchmarks/bench_state_decode.py [--width 256] [--layers 2] [--mamba-layers 4] [--last 1024]
                                            [--rounds 3] [--threads 1]

Per position p the figure is the median, over rounds and the 8 ticks ending at p, of the tick's seconds:
``decode`` ticks (capture on: the hooks' cost included) and a plain loop of the model's own cached forward.
"""
from __future__ import annotations

import argparse
import pathlib
import statistics
import sys
import time

import torch

sys.path.insert(0, str(pathlib.Path(__file__).parent))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from common import table  # noqa: E402

from tr_widgets.engine.decode import cache_arg, decode, returned_cache  # noqa: E402

PROMPT = 16
POSITIONS = (16, 32, 64, 128, 256, 512, 1024)
WINDOW = 8


def models(width: int, layers: int, last: int, mamba_layers: int):
    import transformers as tf

    tf.logging.set_verbosity_error()
    torch.manual_seed(0)
    mamba = tf.MambaForCausalLM(tf.MambaConfig(vocab_size=256, hidden_size=width, num_hidden_layers=mamba_layers,
                                               state_size=16, expand=2)).eval()
    gpt2 = tf.GPT2LMHeadModel(tf.GPT2Config(vocab_size=256, n_embd=width, n_layer=layers, n_head=4,
                                            n_positions=last + 8)).eval()
    return {"mamba": mamba, "gpt2": gpt2}


def plain_ticks(model, ids, n: int) -> list[float]:
    """The model's own cached loop, no capture: seconds per tick."""
    arg = cache_arg(model)  # the forward's own name for its cache (``cache`` on transformers 5.25)
    out, feed, past, secs = None, ids, None, []
    with torch.no_grad():
        for _ in range(n):
            t0 = time.perf_counter()
            out = model(feed, use_cache=True, logits_to_keep=1, **{arg: past})
            feed = out.logits[:, -1:].argmax(-1)
            secs.append(time.perf_counter() - t0)
            past = returned_cache(out, arg)
    return secs


def at_positions(rounds: list[list[float]], positions) -> list[float]:
    """Median ms of the WINDOW ticks ending at each position (tick i ends with i + PROMPT positions cached)."""
    out = []
    for p in positions:
        hi = p - PROMPT + 1  # tick index whose cache holds p positions, +1
        lo = max(0, hi - WINDOW) if p > PROMPT else 1  # the prompt tick itself is a prefill: skip it
        hi = max(hi, lo + 1)
        out.append(1e3 * statistics.median(s for r in rounds for s in r[lo:hi]))
    return out


def state_kept_bytes(tr) -> int:
    """Distinct storage bytes held by a DecodeTrace's state traces (inputs, checkpoints, snapshots)."""
    seen = {}
    for row in tr.state_traces:
        for st in row:
            snap = list((st.initial or {}).values())
            for t in (*st.inputs.values(), *st.checkpoints, *[x for v in snap for x in (v if isinstance(v, tuple) else (v,))]):
                seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
    return sum(seen.values())


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--layers", type=int, default=2, help="GPT-2 layers")
    ap.add_argument("--mamba-layers", type=int, default=4, help="Mamba layers (4 at width 256 ≈ 2 GPT-2 layers' weights)")
    ap.add_argument("--last", type=int, default=POSITIONS[-1])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    ms = models(a.width, a.layers, a.last, a.mamba_layers)
    n = a.last - PROMPT + 1
    ids = torch.randint(0, 256, (1, PROMPT), generator=torch.Generator().manual_seed(1))
    dec, plain, traces = {k: [] for k in ms}, {k: [] for k in ms}, {}
    for _ in range(a.rounds):  # interleaved, so drift on a shared machine hits both models alike
        for name, model in ms.items():
            traces[name] = decode(model, ids, n)
            dec[name].append(traces[name].seconds)
            plain[name].append(plain_ticks(model, ids, n))
    params = {k: sum(p.numel() for n_, p in m.named_parameters() if "emb" not in n_ and "wte" not in n_
                     and "wpe" not in n_ and "lm_head" not in n_) for k, m in ms.items()}
    positions = [p for p in POSITIONS if p <= a.last]
    cols = {k: (at_positions(dec[k], positions), at_positions(plain[k], positions)) for k in ms}
    rows = []
    for i, p in enumerate(positions):
        tick = p - PROMPT
        st = traces["mamba"].layer_bytes(tick, "state")[0]
        kv = traces["gpt2"].layer_bytes(tick, "kv")[0]
        rows.append((p, f"{cols['mamba'][0][i]:.2f}", f"{cols['mamba'][1][i]:.2f}", f"{cols['gpt2'][0][i]:.2f}",
                     f"{cols['gpt2'][1][i]:.2f}", st, kv))
    kept = state_kept_bytes(traces["mamba"])
    print(f"mamba decode of {n} ticks keeps {kept / 2**20:.1f} MiB of state traces "
          f"({kept / (n * a.mamba_layers * rows[0][5]):.2f}x the state's bytes per layer per tick)")
    print(f"width {a.width}; layers: mamba {a.mamba_layers}, gpt2 {a.layers}; params without embeddings: mamba {params['mamba']:,}, "
          f"gpt2 {params['gpt2']:,}; {a.rounds} rounds, {torch.get_num_threads()} thread(s)")
    print(table(rows, ("position", "mamba decode ms/tick", "mamba model ms/tick", "gpt2 decode ms/tick",
                       "gpt2 model ms/tick", "mamba state B/layer", "gpt2 KV B/layer")))
    return {"positions": positions, "cols": cols}


if __name__ == "__main__":
    main()
