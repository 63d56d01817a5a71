"""Seed 004, measured: what one tick costs as the sequence grows.

    python benchmarks/bench_cost_growth.py [--device cuda] [--out test-artifacts/cost_growth] [--threads 1]

1. A language model's tick at position p with the KV cache (feed 1 token, reuse p) and without it
   (feed all p + 1 tokens again): the shipped tiny model (64 positions) and a GPT-2-shaped model
   (4 layers, n_embd 256, 1024 positions, built from a config).
2. One recurrent step (nn.LSTMCell, the same work at every t) against one attention step (the new
   query against t cached keys), both run over the whole sequence and timed step by step.

Prints markdown tables and writes CSV files and PNG charts (altair + vl-convert, offline) to --out.
The measuring functions live in ``tr_widgets.testing.costs`` for notebooks to plot live.
"""
from __future__ import annotations

import argparse
import csv
import pathlib
import sys

import torch

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from common import table  # noqa: E402

from tr_widgets.testing.costs import measure_step_costs, measure_tick_costs  # noqa: E402
from tr_widgets.models import load_tiny  # noqa: E402


def gpt2_small(device):
    from transformers import GPT2Config, GPT2LMHeadModel
    from transformers.utils import logging

    logging.set_verbosity_error()
    torch.manual_seed(0)
    cfg = GPT2Config(n_layer=4, n_embd=256, n_head=4, vocab_size=1000, n_positions=1024,
                     bos_token_id=0, eos_token_id=0)
    return GPT2LMHeadModel(cfg).to(device).eval()


def write_csv(path: pathlib.Path, rows: list[dict]) -> None:
    with path.open("w", newline="") as f:
        wr = csv.DictWriter(f, fieldnames=list(rows[0]))
        wr.writeheader()
        wr.writerows(rows)


def chart(path: pathlib.Path, rows: list[dict], x: str, y: str, color: str, title: str, log_y=False) -> str:
    """A line chart PNG of ``rows`` (altair + vl-convert, no network); returns a note on failure."""
    try:
        import altair as alt

        scale = alt.Scale(type="log") if log_y else alt.Undefined
        c = (alt.Chart(alt.Data(values=rows)).mark_line(point=True)
             .encode(x=alt.X(f"{x}:Q"), y=alt.Y(f"{y}:Q", scale=scale), color=alt.Color(f"{color}:N"))
             .properties(width=420, height=260, title=title))
        c.save(str(path), scale_factor=1.5)
        return str(path)
    except Exception as e:  # noqa: BLE001 - the CSV is still there; say why there is no picture
        return f"(no PNG: {type(e).__name__}: {e}; the CSV has the numbers)"


def model_costs(name, model, positions, repeats) -> list[dict]:
    cached = measure_tick_costs(model, positions, use_cache=True, repeats=repeats)
    full = measure_tick_costs(model, positions, use_cache=False, repeats=repeats)
    rows = []
    for p, a, b in zip(positions, cached["seconds"], full["seconds"]):
        rows.append({"model": name, "position": p, "mode": "with KV cache (feed 1 token)", "ms": round(a * 1e3, 4)})
        rows.append({"model": name, "position": p, "mode": "no cache (feed p+1 tokens)", "ms": round(b * 1e3, 4)})
    print(f"\n{name}: ms per tick at position p (median of {repeats})")
    print(table([(p, f"{a * 1e3:.3f}", f"{b * 1e3:.3f}", f"{b / a:.1f}")
                 for p, a, b in zip(positions, cached["seconds"], full["seconds"])],
                ("position p", "with cache", "no cache", "no cache / cache")))
    return rows


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--out", default="test-artifacts/cost_growth")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1: steadier on a shared CPU; 0: default)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--max-position", type=int, default=4096, help="steps of the recurrent/attention comparison")
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    out = pathlib.Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"device={a.device}, torch {torch.__version__}, threads={torch.get_num_threads()}")

    tiny, _ = load_tiny(a.device)
    rows = model_costs("tiny model (2 layers, 64 positions)", tiny, [1, 8, 16, 32, 48, 63], a.repeats)
    gpos = [1, 64, 128] if a.quick else [1, 128, 256, 512, 768, 1023]
    rows += model_costs("GPT-2-shaped (4 layers, n_embd 256)", gpt2_small(a.device), gpos, a.repeats)
    write_csv(out / "tick_costs.csv", rows)
    notes = [chart(out / "tick_costs_gpt2.png", [r for r in rows if r["model"].startswith("GPT")], "position",
                   "ms", "mode", "GPT-2-shaped model: ms per tick, with and without the KV cache", log_y=True),
             chart(out / "tick_costs_tiny.png", [r for r in rows if r["model"].startswith("tiny")], "position",
                   "ms", "mode", "tiny model: ms per tick, with and without the KV cache")]

    T = 512 if a.quick else a.max_position
    steps = measure_step_costs(max_position=T, d_model=256, n_heads=4, every=max(T // 16, 1), device=a.device)
    srows = []
    for p, r, s in zip(steps["position"], steps["recurrent_s"], steps["attention_s"]):
        srows.append({"position": p, "step": "recurrent (LSTM cell)", "us": round(r * 1e6, 2)})
        srows.append({"position": p, "step": "attention (query vs t cached keys)", "us": round(s * 1e6, 2)})
    print("\none step at position t, d_model 256 (median µs of the steps around t)")
    print(table([(p, f"{r * 1e6:.1f}", f"{s * 1e6:.1f}", f"{s / r:.2f}")
                 for p, r, s in zip(steps["position"], steps["recurrent_s"], steps["attention_s"])],
                ("position t", "recurrent µs", "attention µs", "attention / recurrent")))
    write_csv(out / "step_costs.csv", srows)
    notes.append(chart(out / "step_costs.png", srows, "position", "us", "step",
                       "one step at position t: recurrent (constant) vs attention (grows with t), µs"))
    print("\nwrote", out / "tick_costs.csv", out / "step_costs.csv", *notes, sep="\n  ")
    return {"ticks": rows, "steps": srows}


if __name__ == "__main__":
    main()
