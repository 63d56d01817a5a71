"""Goal (issue 23): for one mixer layer of each newer family (LFM2 short conv, RecurrentGemma RG-LRU, Kimi Delta
Attention, MiniMax lightning attention, xLSTM mLSTM, and Gated DeltaNet beside them), building its StateTrace and
reading every state (``states()``) costs ≤ 1.5× the module's own torch-path forward, and the trace keeps ≤ 1.25×
(scan inputs + √T checkpoints) bytes. Measured side by side in one run, as benchmarks/bench_state.py does.

Memory, per family, against M = the scan inputs + the √T checkpoints (what the design keeps):
"kept / M": the bytes the trace holds (each storage once: a view of a larger tensor counts that tensor);
"build peak / M": the most bytes of tensors the build's torch ops held at once (its transient work beside what
it keeps; LiveBytes below; kernel scratch unseen); "left / M": what those ops leave alive with the trace;
"states() MiB": what reading every state adds (T states, the one thing that grows as T, not as √T).

    python benchmarks/bench_state_new_families.py [--T 256] [--hidden 64] [--families short_conv,rglru,...]
                                                  [--repeats 5] [--threads 1]
"""
from __future__ import annotations

import argparse
import pathlib
import sys
import time
import weakref

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from common import side_by_side, table  # noqa: E402

from tr_widgets.engine.state import trace_mixer_call  # noqa: E402

FAMILIES = ("short_conv", "rglru", "kda", "lightning", "mlstm", "gated_deltanet")


def mixer(family: str, h: int):
    """(module, extra call kwargs) of one mixer layer of the family's tiny model, hidden size h."""
    import transformers as tf

    torch.manual_seed(0)
    small = dict(vocab_size=8, hidden_size=h, intermediate_size=2 * h, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=1, pad_token_id=0)
    if family == "short_conv":
        model = tf.Lfm2Model(tf.Lfm2Config(**small, layer_types=["conv", "full_attention"]))
        return model.layers[0].conv.eval(), {}
    if family == "rglru":
        model = tf.RecurrentGemmaModel(tf.RecurrentGemmaConfig(**small, lru_width=h, block_types=["recurrent",
                                                                                                  "attention"]))
        return model.layers[0].temporal_block.eval(), {"use_cache": False, "attention_mask": None}
    if family == "kda":
        cfg = tf.KimiLinearConfig(**{**small, "num_key_value_heads": 4}, moe_intermediate_size=32,
                                  linear_head_dim=h // 4, linear_num_heads=4, num_local_experts=2,
                                  num_experts_per_tok=1, kv_lora_rank=8, qk_rope_head_dim=4, qk_nope_head_dim=8,
                                  v_head_dim=8, layer_types=["linear_attention", "full_attention"],
                                  mlp_layer_types=["dense", "dense"])
        return tf.KimiLinearModel(cfg).layers[0].self_attn.eval(), {}
    if family == "lightning":
        cfg = tf.MiniMaxConfig(**small, head_dim=h // 4, num_local_experts=2, num_experts_per_tok=1,
                               layer_types=["linear_attention", "full_attention"])
        return tf.MiniMaxModel(cfg).layers[0].self_attn.eval(), {"position_embeddings": None, "attention_mask": None}
    if family == "gated_deltanet":  # Qwen3-Next's linear attention, 2 value heads per key head (as bench_state.py)
        cfg = tf.Qwen3NextConfig(**small, layer_types=["linear_attention", "full_attention"], linear_num_key_heads=2,
                                 linear_num_value_heads=4, linear_key_head_dim=h // 4, linear_value_head_dim=h // 4,
                                 num_experts=2, num_experts_per_tok=1, moe_intermediate_size=32,
                                 shared_expert_intermediate_size=32)
        return tf.Qwen3NextModel(cfg).layers[0].linear_attn.eval(), {}
    model = tf.xLSTMModel(tf.xLSTMConfig(**small, num_heads=4, qk_dim_factor=64 / h, v_dim_factor=64 / h,
                                         autocast_kernel_dtype="float32"))  # see families_mlstm: bf16 chunks
    return model.blocks[0].mlstm_layer.eval(), {}


def measure(family: str, h: int, T: int, repeats: int, clock) -> dict:
    mod, kw = mixer(family, h)
    hidden = torch.randn(2, T, h)
    if family == "rglru":
        kw = dict(kw, position_ids=torch.arange(T)[None])
    with torch.no_grad():
        out = mod(hidden, **kw)

    def forward():
        with torch.no_grad():
            mod(hidden, **kw)

    def build():
        trace_mixer_call(mod, (hidden,), kw, out)

    def build_all():
        trace_mixer_call(mod, (hidden,), kw, out).states()

    t = trace_mixer_call(mod, (hidden,), kw, out)
    times = side_by_side({"forward": forward, "build": build, "build_all": build_all}, repeats=repeats, warmup=1, clock=clock)
    inputs = sum(v.numel() * v.element_size() for v in t.inputs.values())
    ckpts = sum(c.numel() * c.element_size() for c in t.checkpoints)
    states = t.states()
    states = sum(x.numel() * x.element_size() for x in (states if isinstance(states, tuple) else (states,)))
    del t
    with LiveBytes(hidden, out, *mod.parameters(), *mod.buffers(), *kw.values()) as live:  # views of these: no bytes
        t = trace_mixer_call(mod, (hidden,), kw, out)
    return dict(family=family, T=T, every=t.every, times=times, inputs=inputs, ckpts=ckpts, kept=t.kept_bytes,
                peak=live.peak, after=live.now, states=states)


class LiveBytes(TorchDispatchMode):
    """Bytes of the tensors that torch ops allocate while active, live at the end (``now``) and at most (``peak``):
    each new storage counted once, until the storage is freed (its Python object is kept per storage, so a
    finalizer on it fires when the last view goes). Kernel-internal scratch is not seen: a lower bound."""

    def __init__(self, *existing):
        super().__init__()
        self.now = self.peak = 0
        self.seen = set()
        self.old = {t.untyped_storage().data_ptr() for t in tree_flatten(existing)[0] if isinstance(t, torch.Tensor)}

    def _free(self, key, n):
        self.seen.discard(key)
        self.now -= n

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor) and t.device.type == "cpu":
                st = t.untyped_storage()
                key = (st.data_ptr(), st.nbytes())
                if st.nbytes() and key not in self.seen and key[0] not in self.old:
                    self.seen.add(key)
                    self.now += st.nbytes()
                    self.peak = max(self.peak, self.now)
                    weakref.finalize(st, self._free, key, st.nbytes())
        return out


def main(argv=None) -> list[dict]:
    ap = argparse.ArgumentParser()
    ap.add_argument("--T", type=int, default=256)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default; 1 on a shared machine)")
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    import transformers

    transformers.logging.set_verbosity_error()
    clock = time.process_time if a.threads == 1 else time.perf_counter  # CPU time: a busy machine disturbs it less
    results = [measure(f, a.hidden, a.T, a.repeats, clock) for f in a.families.split(",")]
    load = open("/proc/loadavg").read().split()[0] if pathlib.Path("/proc/loadavg").exists() else "?"
    print(f"CPU, torch {torch.__version__}, transformers {transformers.__version__}, threads={torch.get_num_threads()}, "
          f"clock={clock.__name__}, load {load}")
    rows = []
    for r in results:
        tm = r["times"]
        M = r["inputs"] + r["ckpts"]
        r.update(ratio=tm["build_all"] / tm["forward"], kept_ratio=r["kept"] / M,
                 peak_ratio=r["peak"] / M, left_ratio=r["after"] / M)
        rows.append((r["family"], r["T"], r["every"], f"{tm['forward'] * 1e3:.1f}", f"{tm['build'] / tm['forward']:.2f}",
                     f"{r['ratio']:.2f}", f"{r['inputs'] / 2**20:.2f}", f"{r['ckpts'] / 2**20:.2f}",
                     f"{r['kept_ratio']:.2f}", f"{r['peak_ratio']:.2f}", f"{r['left_ratio']:.2f}",
                     f"{r['states'] / 2**20:.1f}"))
    print(table(rows, ("mixer", "T", "every", "forward ms", "build ×", "build + states() ×", "inputs MiB", "ckpts MiB",
                       "kept / M", "build peak / M", "left / M", "states() MiB")))
    worst = max(r["ratio"] for r in results)
    print(f"time ratio (worst): {worst:.2f} (goal ≤ 1.5) -> {'OK' if worst <= 1.5 else 'MISSED'}")
    worst_m = max(r["kept_ratio"] for r in results)
    print(f"kept-bytes ratio (worst): {worst_m:.2f} (goal ≤ 1.25) -> {'OK' if worst_m <= 1.25 else 'MISSED'}")
    return results


if __name__ == "__main__":
    main()
