"""Goal (issue 5): decoding with tracing costs ≤ 1.2× Hugging Face ``generate`` per token, for a
GPT-2-shaped model with 4 layers (built from a config: no download), KV cache on, greedy, measured
side by side in one run.

    python benchmarks/bench_decode.py [--device cuda] [--tokens 16] [--prompt 8] [--threads 1]

``decode`` records per tick: the chosen token, top-k probabilities, the new query row and the appended
keys/values of every layer (through capture), and the tick's wall time. A plain cached loop without
any tracing is shown for reference (what ``generate`` costs without its own per-token machinery).
"""
from __future__ import annotations

import argparse
import pathlib
import sys

import torch

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from common import side_by_side, table  # noqa: E402

from tr_widgets.engine.decode import cache_arg, decode, returned_cache  # noqa: E402


def gpt2(n_layer: int, device: str):
    from transformers import GPT2Config, GPT2LMHeadModel
    from transformers.utils import logging

    logging.set_verbosity_error()  # a config-built GPT-2 warns about generation defaults; noise here
    torch.manual_seed(0)
    cfg = GPT2Config(n_layer=n_layer, bos_token_id=0, eos_token_id=0, pad_token_id=0)
    return GPT2LMHeadModel(cfg).to(device).eval()


def main(argv=None) -> float:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--tokens", type=int, default=16)
    ap.add_argument("--prompt", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1: steadier on a shared CPU; 0: default)")
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    model = gpt2(a.layers, a.device)
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(1, model.config.vocab_size, (1, a.prompt), generator=g).to(a.device)
    ones = torch.ones_like(ids)
    N = a.tokens

    def hf_generate():
        with torch.no_grad():
            return model.generate(ids, attention_mask=ones, max_new_tokens=N, min_new_tokens=N, do_sample=False,
                                  pad_token_id=0)

    def traced():
        return decode(model, ids, N)

    def plain_loop():
        with torch.no_grad():
            past, feed, arg = None, ids, cache_arg(model)  # ``cache`` on transformers 5.25
            for _ in range(N):
                out = model(feed, use_cache=True, logits_to_keep=1, **{arg: past})
                past, feed = returned_cache(out, arg), out.logits[:, -1:].argmax(-1)

    ref, tr = hf_generate()[0, a.prompt:].tolist(), traced()
    same = ref == tr.new_ids
    t = side_by_side({"generate": hf_generate, "decode": traced, "loop": plain_loop}, a.device, a.repeats)
    ratio = t["decode"] / t["generate"]
    per = {k: v / N * 1e3 for k, v in t.items()}
    print(f"GPT-2-shaped ({a.layers} layers, n_embd {model.config.n_embd}, {model.config.n_head} heads, vocab "
          f"{model.config.vocab_size}), prompt {a.prompt} tokens + {N} new, cache on, greedy, device={a.device}, "
          f"torch {torch.__version__}, threads={torch.get_num_threads()}")
    print(table([
        ("HF generate(do_sample=False)", f"{per['generate']:.2f}", "1.00"),
        ("tr_widgets decode (traced)", f"{per['decode']:.2f}", f"{ratio:.2f}"),
        ("plain cached forward loop (reference)", f"{per['loop']:.2f}", f"{t['loop'] / t['generate']:.2f}"),
    ], ("what", "median ms / token", "× generate")))
    print(f"same tokens as generate: {same}")
    print(f"decode trace ratio: {ratio:.2f} (goal ≤ 1.2) -> {'OK' if ratio <= 1.2 and same else 'MISSED'}")
    return ratio


if __name__ == "__main__":
    main()
