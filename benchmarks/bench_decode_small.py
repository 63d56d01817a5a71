"""Goal (issue 10): ``decode`` costs ≤ 1.1× Hugging Face ``generate`` per token on a *small* model, where the
per-tick Python work shows (the 768-wide bench_decode.py hides it behind the model's own compute).

Model: GPT-2-shaped, 4 layers, width 128, 4 heads (built from a config, default sdpa attention), prompt 16,
48 new tokens, greedy, cache on, CPU; medians of interleaved rounds in one run.

    python benchmarks/bench_decode_small.py [--repeats 9] [--threads 1] [--cpu-time]

``--cpu-time`` times this process's CPU time instead of wall time (steadier on a shared machine). Run it
with another transformers on the path (e.g. ``PYTHONPATH=<dir with transformers 5.23>``) to compare releases
side by side: the table's title names the release it ran on. (A transformers installed outside site-packages
with ``pip install --target`` counted as user code to capture's module-loop finder until issue 23; now its
dist-info RECORD makes it library code, and decode's capture looks for no module loops at all.)

Profile a tick's own work: ``python -c "import cProfile, pstats, time; ..."`` around ``decode`` with
``cProfile.Profile(time.process_time)``; issue 23's top items were make_trace (torch.broadcast_shapes), the
hooks' torch._dynamo.disable wrappers, recorder._pre's kind lookups and, on 5.23 from --target, module-loop hooks.
"""
from __future__ import annotations

import argparse
import pathlib
import sys
import time

import torch

sys.path.insert(0, str(pathlib.Path(__file__).parent))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from common import side_by_side, table  # noqa: E402

from tr_widgets.engine.decode import decode  # noqa: E402

GOAL = 1.10


def main(argv=None) -> float:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--tokens", type=int, default=48)
    ap.add_argument("--prompt", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cpu-time", action="store_true", help="CPU time of this process instead of wall time")
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    import transformers
    from transformers import GPT2Config, GPT2LMHeadModel
    from transformers.utils import logging

    logging.set_verbosity_error()
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(n_layer=4, n_embd=128, n_head=4, vocab_size=1000, n_positions=128,
                                       bos_token_id=0, eos_token_id=0, pad_token_id=0)).eval()
    ids = torch.randint(1, 1000, (1, a.prompt), generator=torch.Generator().manual_seed(1))
    N = a.tokens

    def hf_generate():
        with torch.no_grad():
            return model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=N, min_new_tokens=N,
                                  do_sample=False, pad_token_id=0)

    tr = decode(model, ids, N)
    assert tr.new_ids == hf_generate()[0, a.prompt:].tolist() and tr.num_layers == 4
    t = side_by_side({"generate": hf_generate, "decode": lambda: decode(model, ids, N)}, repeats=a.repeats,
                     clock=time.process_time if a.cpu_time else time.perf_counter)
    ratio = t["decode"] / t["generate"]
    print(table([(k, f"{v / N * 1e3:.3f}") for k, v in t.items()] + [("ratio", f"{ratio:.3f} (goal ≤ {GOAL})")],
                (f"GPT-2 4×128, prompt 16, 48 tokens, CPU, transformers {transformers.__version__}"
                 + (" (CPU time)" if a.cpu_time else ""), "ms / token")))
    return ratio


if __name__ == "__main__":
    main()
