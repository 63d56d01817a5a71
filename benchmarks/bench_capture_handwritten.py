"""Goal (issue 10): capture of attention written by hand costs ≤ 1.5× the plain forward, and of SDPA
attention ≤ 1.05×, side by side on one GPT-2 shape (6 layers, width 256, 8 heads, T=1024, batch 1, CPU).

* hand-written: a minGPT-style model (``tests/capture/teaching.py``: ``(q @ kᵀ) * scale``, ``masked_fill``,
  ``F.softmax``, ``att @ v``), recorded by ``hand.HandMode`` while each attention module runs;
* sdpa: Hugging Face ``GPT2Model`` (default sdpa attention), recorded through the patched function.

    python benchmarks/bench_capture_handwritten.py [--repeats 9] [--T 1024]
"""
from __future__ import annotations

import argparse
import pathlib
import sys

import torch

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(pathlib.Path(__file__).parent))
sys.path.insert(0, str(ROOT))
from common import side_by_side, table  # noqa: E402

from tr_widgets.engine.capture import capture  # noqa: E402
from tests.capture.teaching import MinGPT  # noqa: E402


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--T", type=int, default=1024)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    import transformers

    transformers.logging.set_verbosity_error()
    torch.manual_seed(0)
    hand = MinGPT(n_layer=6, n_embd=256, n_head=8, block_size=a.T, vocab=1000).eval()
    sdpa = transformers.GPT2Model(transformers.GPT2Config(n_layer=6, n_head=8, n_embd=256, vocab_size=1000,
                                                          n_positions=a.T, bos_token_id=0, eos_token_id=0)).eval()
    ids = torch.randint(0, 1000, (1, a.T))

    def plain(m):
        def run():
            with torch.no_grad():
                m(ids)
        return run

    def captured(m):
        def run():
            with torch.no_grad(), capture(m) as rec:
                m(ids)
            assert len(rec.recorder.entries) == 6
        return run
    t = side_by_side({"hand plain": plain(hand), "hand capture": captured(hand),
                      "sdpa plain": plain(sdpa), "sdpa capture": captured(sdpa)}, repeats=a.repeats)
    r = {"hand": t["hand capture"] / t["hand plain"], "sdpa": t["sdpa capture"] / t["sdpa plain"]}
    print(table([("minGPT-style (hand-written)", f"{t['hand plain'] * 1e3:.1f}", f"{t['hand capture'] * 1e3:.1f}",
                  f"{r['hand']:.3f}", "≤ 1.5"),
                 ("HF GPT2Model (sdpa)", f"{t['sdpa plain'] * 1e3:.1f}", f"{t['sdpa capture'] * 1e3:.1f}",
                  f"{r['sdpa']:.3f}", "≤ 1.05")],
                (f"T={a.T}, 6×256, CPU", "plain ms", "capture ms", "ratio", "goal")))
    return r


if __name__ == "__main__":
    main()
