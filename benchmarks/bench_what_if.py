"""What a what-if costs (issue 24): the edited run (``run_edited``: the edits installed, the run under a capture,
the edited calls' traces finished) against one capture of the same run (``with capture(model): run()``).

* Recurrent net: an embedding, ``nn.LSTM(64, 256)`` (or ``nn.GRU``) and a linear head, batch 8, T steps;
  ``Edit.state`` at step t (t = T/4, T/2, 3T/4) setting the whole state, or h only (an LSTM's c kept), and
  ``Edit.gate`` of f at step t. Goal: about (T − t)/T of a capture, the edited module restarting from the
  recorded state at t (the embedding and head run whole, as the model does). An LSTM edit that keeps c_t, or
  forces a gate at t, first needs c_t (c_{t-1}), which the fused kernel does not return: it is replayed from the
  gates of steps 0..t, the same products the kernel computes, so on CPU those rows sit near 1× whatever t (on a
  GPU the replay is one batched product). The after trace replays nothing until its gates or cells are read.
* Attention: Hugging Face ``GPT2Model`` (n_layer=4, n_head=8, n_embd=256, sdpa), T tokens; ``Edit.head`` cutting
  one head of layer 1 at every query. Goal: ≤ 1.2× one capture.
* Decode (``decode_rows``): the shipped tiny GPT (5-token prompt, T = 48 ticks) and a tiny random Hugging Face
  Mamba (T = 32), ``Edit.token`` at tick t (T/4, T/2, 3T/4), against one decode and one capture of it. Goal:
  about (T − t)/T, the edited decode restarting from the baseline's cache copied after tick t − 1.

Both are timed side by side in one run (``common.side_by_side``, medians, CPU time with one torch thread so a
busy machine disturbs it less). ``what_if`` itself is one capture (the baseline, which ``before_output`` needs whole)
plus ``run_edited``, so its ratio is 1 + the edited run's; it is printed too.
Usage: ``python benchmarks/bench_what_if.py [--quick] [--repeats N]``; the load (``uptime``) is printed beside.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import side_by_side, table  # noqa: E402
from tr_widgets.engine.capture import capture  # noqa: E402
from tr_widgets.engine.whatif import Edit, what_if  # noqa: E402
from tr_widgets.engine.whatif.run import run_edited  # noqa: E402


class CharLSTM(nn.Module):
    """Embedding, one recurrent layer (named ``lstm`` whatever its kind), a linear head."""

    def __init__(self, vocab=100, emb=64, hidden=256, rnn=nn.LSTM):
        super().__init__()
        self.emb, self.lstm, self.head = nn.Embedding(vocab, emb), rnn(emb, hidden), nn.Linear(hidden, vocab)

    def forward(self, ids):  # ids [T, B]
        return self.head(self.lstm(self.emb(ids))[0])


def timed(model, run, edits, repeats):
    with capture(model) as before:
        run()

    def one_capture():
        with capture(model):
            run()
    s = side_by_side({"capture": one_capture, "edited": lambda: run_edited(model, run, before, edits),
                      "what_if": lambda: what_if(model, run, *edits)},
                     repeats=repeats, warmup=1, clock=time.process_time)
    return s["edited"] / s["capture"], s["what_if"] / s["capture"], s["capture"]


def recurrent_rows(T, repeats):
    torch.manual_seed(0)
    rows = []
    for rnn in (nn.LSTM, nn.GRU):
        model = CharLSTM(rnn=rnn).eval()
        ids = torch.randint(0, 100, (T, 8))
        run = lambda: model(ids)  # noqa: E731
        name = rnn.__name__
        with torch.no_grad():
            for frac in (0.25, 0.5, 0.75):
                t = int(T * frac)
                edits = [Edit.state("lstm", t, 0.0)]
                if rnn is nn.LSTM:  # c kept: c_t is replayed from the gates of steps 0..t; a gate: c_{t-1}, one step
                    edits += [Edit.state("lstm", t, (0.0, None)), Edit.gate("lstm", "f", t, 1.0)]
                for edit in edits:
                    edited, whole, cap = timed(model, run, [edit], repeats)
                    rows.append((f"{name} T={T}", repr(edit), f"{(T - t - 1) / T:.2f}", f"{edited:.2f}",
                                 f"{whole:.2f}", f"{cap * 1e3:.0f}"))
    return rows


class LSTMScratch(nn.Module):
    """d2l's LSTMScratch (a loop of tensor operations in the forward), its gates under the code's names."""

    def __init__(self, n_in=28, n_h=64):
        super().__init__()
        p = lambda *shape: nn.Parameter(torch.randn(*shape) * 0.1)  # noqa: E731
        self.W_xi, self.W_hi, self.b_i = p(n_in, n_h), p(n_h, n_h), p(n_h)
        self.W_xf, self.W_hf, self.b_f = p(n_in, n_h), p(n_h, n_h), p(n_h)
        self.W_xo, self.W_ho, self.b_o = p(n_in, n_h), p(n_h, n_h), p(n_h)
        self.W_xc, self.W_hc, self.b_c = p(n_in, n_h), p(n_h, n_h), p(n_h)
        self.n_h = n_h

    def forward(self, inputs):  # [T, B, n_in]
        H = torch.zeros(inputs.shape[1], self.n_h)
        C = torch.zeros(inputs.shape[1], self.n_h)
        outputs = []
        for X in inputs:
            I = torch.sigmoid(torch.matmul(X, self.W_xi) + torch.matmul(H, self.W_hi) + self.b_i)
            F = torch.sigmoid(torch.matmul(X, self.W_xf) + torch.matmul(H, self.W_hf) + self.b_f)
            O = torch.sigmoid(torch.matmul(X, self.W_xo) + torch.matmul(H, self.W_ho) + self.b_o)
            C_tilde = torch.tanh(torch.matmul(X, self.W_xc) + torch.matmul(H, self.W_hc) + self.b_c)
            C = F * C + I * C_tilde
            H = O * torch.tanh(C)
            outputs.append(H)
        return outputs, (H, C)


def loop_rows(T, repeats):
    """A loop written in a forward: a Python loop cannot restart mid-way, so the edited run is one whole run under
    capture (the edit's line tracer and capture's fast tracer share the frame): about one capture."""
    torch.manual_seed(0)
    model, x = LSTMScratch().eval(), torch.randn(T, 8, 28)
    rows = []
    with torch.no_grad():
        for edit in (Edit.gate("LSTMScratch", "F", [T // 2], 1.0), Edit.state("LSTMScratch", T // 2, 0.0)):
            edited, whole, cap = timed(model, lambda: model(x), [edit], repeats)
            rows.append((f"LSTMScratch T={T}", repr(edit), "≤ 1.2", f"{edited:.2f}", f"{whole:.2f}", f"{cap * 1e3:.0f}"))
    return rows


def attention_rows(T, repeats):
    import transformers

    transformers.logging.set_verbosity_error()
    cfg = transformers.GPT2Config(n_layer=4, n_head=8, n_embd=256, vocab_size=1000, n_positions=1024,
                                  bos_token_id=0, eos_token_id=0)
    torch.manual_seed(0)
    model = transformers.GPT2Model(cfg).eval()
    ids = torch.randint(0, 1000, (1, T))
    with torch.no_grad():
        edited, whole, cap = timed(model, lambda: model(ids).last_hidden_state, [Edit.head("h.1.attn", 3)], repeats)
    return [(f"GPT-2 (4×256) T={T}", "Edit.head('h.1.attn', 3)", "≤ 1.2", f"{edited:.2f}", f"{whole:.2f}",
             f"{cap * 1e3:.0f}")]


def decode_rows(T_gpt, T_mamba, repeats):
    """``Edit.token`` on a decode: the edited run (restarting from the baseline's cache) against one decode."""
    import transformers

    import tr_widgets
    from tr_widgets.engine.whatif import tokens

    transformers.logging.set_verbosity_error()
    gpt, tok = tr_widgets.load_tiny()
    torch.manual_seed(0)
    mamba = transformers.MambaForCausalLM(transformers.MambaConfig(
        vocab_size=64, hidden_size=32, state_size=8, num_hidden_layers=2, conv_kernel=4, expand=2,
        time_step_rank=4)).eval()
    cases = [("TinyGPT", gpt, T_gpt, lambda: tr_widgets.decode(gpt, "The cat sat on the", T_gpt, tokenizer=tok), 3),
             ("Mamba (HF, 2×32)", mamba, T_mamba, lambda: tr_widgets.decode(mamba, torch.arange(5), T_mamba), 7)]
    rows = []
    for name, model, T, run, token in cases:
        for frac in (0.25, 0.5, 0.75):
            t = int(T * frac)
            edits = [Edit.token(t, token)]
            with capture(model) as before:  # the baseline, as what_if runs it: the decode copies its cache at t − 1
                steer = tokens.of(edits, before)
                with tokens.steering(steer):
                    run()

            def one_capture():
                with capture(model):
                    run()
            s = side_by_side({"decode": run, "capture": one_capture,
                              "edited": lambda: run_edited(model, run, before, edits, steer),
                              "what_if": lambda: what_if(model, run, *edits)},
                             repeats=repeats, warmup=1, clock=time.process_time)
            rows.append((f"{name} decode T={T}", repr(edits[0]), f"{(T - t) / T:.2f}",
                         f"{s['edited'] / s['decode']:.2f}", f"{s['edited'] / s['capture']:.2f}",
                         f"{s['what_if'] / s['decode']:.2f}",
                         f"{s['decode'] * 1e3:.0f}"))
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="short sequences, few repeats (a busy machine)")
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument("--decode", action="store_true", help="only the decode rows (Edit.token)")
    a = p.parse_args()
    torch.set_num_threads(1)
    repeats = a.repeats or (3 if a.quick else 7)
    T_rnn, T_att = (256, 128) if a.quick else (1024, 512)
    print("uptime:", os.popen("uptime").read().strip(), flush=True)
    if not a.decode:
        rows = recurrent_rows(T_rnn, repeats) + loop_rows(T_rnn // 4, repeats) + attention_rows(T_att, repeats)
        print(table(rows, ("model", "edit", "goal (× capture)", "edited run (× capture)", "what_if (× capture)",
                           "capture (ms CPU)")))
    print(table(decode_rows(*((24, 16) if a.quick else (48, 32)), repeats),
                ("model", "edit", "goal (T − t)/T", "edited run (× decode)", "edited run (× capture)",
                 "what_if (× decode)", "decode (ms CPU)")), flush=True)
    print("uptime:", os.popen("uptime").read().strip(), flush=True)


if __name__ == "__main__":
    main()
