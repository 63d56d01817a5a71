"""Goals (issue 11): for one mixer layer, building its StateTrace and reading every state costs ≤ 1.5× the
module's own torch-path forward, and the trace keeps ≤ 1.25× (scan inputs + √T checkpoints) bytes.
Measured side by side in one run, for Mamba, Mamba-2, RWKV and Gated DeltaNet at a tiny and a medium size.

    python benchmarks/bench_state.py [--sizes tiny,medium] [--families mamba,mamba2,rwkv,gated_deltanet]
                                     [--repeats 5] [--threads 1]

"every state, one at a time" (T calls of state(step), each rerunning ≤ √T steps) is shown for reference.
"first touch ×" is the time to write a freshly allocated tensor of states()' size (page faults and one write
pass): the floor of anything that returns every state, large on a loaded machine (report `uptime` beside it).
"""
from __future__ import annotations

import argparse
import pathlib
import sys
import time

import torch

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from common import side_by_side, table  # noqa: E402

from tr_widgets.engine.state import trace_mixer_call  # noqa: E402

SIZES = {  # (hidden, T, batch) and per-family extras
    "tiny": dict(hidden=32, T=256, B=2, state=8, heads=8),
    "medium": dict(hidden=768, T=1000, B=1, state=16, heads=24),
}


def mixer(family: str, s: dict):
    import transformers as tf

    torch.manual_seed(0)
    h = s["hidden"]
    if family == "mamba":
        cfg = tf.MambaConfig(hidden_size=h, state_size=s["state"], num_hidden_layers=1, vocab_size=8)
        model = tf.MambaModel(cfg)
    elif family == "mamba2":
        n = 4 * s["state"]  # Mamba-2 keeps a wider state per head (64 here; 128 in mamba2-130m)
        cfg = tf.Mamba2Config(hidden_size=h, state_size=n, num_hidden_layers=1, vocab_size=8, expand=2,
                              num_heads=s["heads"], head_dim=2 * h // s["heads"], n_groups=1, chunk_size=256)
        model = tf.Mamba2Model(cfg)
    elif family == "gated_deltanet":  # Qwen3-Next's linear attention: 2 value heads per key head, 64-wide heads
        hk, d = s["heads"] // 6, max(8, h // 12)
        cfg = tf.Qwen3NextConfig(hidden_size=h, num_hidden_layers=1, vocab_size=8, layer_types=["linear_attention"],
                                 linear_num_key_heads=hk, linear_num_value_heads=2 * hk, linear_key_head_dim=d,
                                 linear_value_head_dim=d, num_experts=2, num_experts_per_tok=1,
                                 moe_intermediate_size=32, shared_expert_intermediate_size=32, intermediate_size=64)
        return tf.Qwen3NextModel(cfg).eval().layers[0].linear_attn
    else:
        cfg = tf.RwkvConfig(hidden_size=h, num_hidden_layers=2, vocab_size=8, context_length=s["T"])
        model = tf.RwkvModel(cfg)
    model.eval()
    return model.blocks[0].attention if family == "rwkv" else model.layers[0].mixer


def measure(family: str, size: str, repeats: int, clock=time.perf_counter) -> dict:
    s = SIZES[size]
    mod = mixer(family, s)
    hidden = torch.randn(s["B"], s["T"], s["hidden"])
    with torch.no_grad():
        out = mod(hidden)

    def forward():
        with torch.no_grad():
            mod(hidden)

    def build():
        trace_mixer_call(mod, (hidden,), {}, out)

    def build_all():
        trace_mixer_call(mod, (hidden,), {}, out).states()

    t = trace_mixer_call(mod, (hidden,), {}, out)

    def one_by_one():
        for step in range(len(t)):
            t.state(step)

    n_bytes = sum(s.numel() * s.element_size() for s in (t.states() if isinstance(t.states(), tuple) else (t.states(),)))

    def first_touch():
        torch.empty(n_bytes, dtype=torch.uint8).fill_(1)

    fns = {"forward": forward, "build": build, "build_all": build_all, "touch": first_touch}
    if size == "tiny":
        fns["one_by_one"] = one_by_one
    times = side_by_side(fns, repeats=repeats, warmup=1, clock=clock)
    inputs = sum(v.numel() * v.element_size() for v in t.inputs.values())
    ckpts = sum(c.numel() * c.element_size() for c in t.checkpoints)
    return dict(family=family, size=size, T=len(t), every=t.every, times=times, inputs=inputs, ckpts=ckpts,
                kept=t.kept_bytes, state_bytes=t.state_bytes)


def main(argv=None) -> list[dict]:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="tiny,medium")
    ap.add_argument("--families", default="mamba,mamba2,rwkv,gated_deltanet")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default); on a shared "
                    "machine use 1, as tiny per-step matmuls otherwise wait on busy OpenMP workers")
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    import transformers

    transformers.logging.set_verbosity_error()
    clock = time.process_time if torch.get_num_threads() == 1 else time.perf_counter  # CPU time: a busy machine
    results = [measure(f, z, a.repeats, clock) for z in a.sizes.split(",") for f in a.families.split(",")]
    print(f"CPU, torch {torch.__version__}, transformers {transformers.__version__}, threads={torch.get_num_threads()}, "
          f"clock={clock.__name__}, load {open('/proc/loadavg').read().split()[0] if pathlib.Path('/proc/loadavg').exists() else '?'}")
    rows = []
    for r in results:
        tm = r["times"]
        ratio = tm["build_all"] / tm["forward"]
        kept = r["kept"] / (r["inputs"] + r["ckpts"])
        r.update(ratio=ratio, kept_ratio=kept)
        obo = f"{tm['one_by_one'] / tm['forward']:.2f}" if "one_by_one" in tm else "-"
        rows.append((f"{r['family']} {r['size']}", r["T"], r["every"], f"{tm['forward'] * 1e3:.1f}",
                     f"{tm['build'] / tm['forward']:.2f}", f"{ratio:.2f}", f"{tm['touch'] / tm['forward']:.2f}", obo,
                     f"{r['kept'] / 2**20:.2f}", f"{kept:.2f}", f"{r['state_bytes'] / 2**10:.1f}"))
    print(table(rows, ("mixer", "T", "every", "forward ms", "build ×", "build + states() ×", "first touch ×",
                       "state(t) for all t ×", "kept MiB", "kept / (inputs + ckpts)", "state KiB")))
    worst_t = max(r["ratio"] for r in results)
    worst_m = max(r["kept_ratio"] for r in results)
    print(f"time ratio (worst): {worst_t:.2f} (goal ≤ 1.5) -> {'OK' if worst_t <= 1.5 else 'MISSED'}")
    print(f"kept-bytes ratio (worst): {worst_m:.2f} (goal ≤ 1.25) -> {'OK' if worst_m <= 1.25 else 'MISSED'}")
    return results


if __name__ == "__main__":
    main()
