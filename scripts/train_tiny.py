"""Train the tiny GPTs shipped in tr_widgets/models/ on their corpora (CPU, minutes).

``--lang en`` (the default): the word-level English model, tiny_gpt.safetensors, on corpus.txt.
``--lang zh``: the character-level Chinese model, tiny_gpt_zh.safetensors, on corpus_zh.txt
(scripts/make_corpus_zh.py). The same architecture, seed, schedule and code; only the text, the
tokenizer and the number of steps differ.

Reproducible: fixed seed, ``torch.use_deterministic_algorithms(True)``, 2 threads, batches drawn from
a seeded generator, no dropout. Two runs on the same machine and torch version write the same weights.

Usage:  python scripts/train_tiny.py                 (writes tr_widgets/models/tiny_gpt.safetensors)
        python scripts/train_tiny.py --lang zh       (writes tr_widgets/models/tiny_gpt_zh.safetensors)
        python scripts/train_tiny.py --steps 50 --out /tmp/t.safetensors
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import math
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
from tr_widgets.models.char_tokenizer import CharTokenizer, read_corpus_zh  # noqa: E402
from tr_widgets.models.tiny_gpt import (MAX_FILE_BYTES, WEIGHTS, TinyGPT,  # noqa: E402
                                        TinyGPTConfig, save_tiny)
from tr_widgets.models.tokenizer import WordTokenizer, read_corpus  # noqa: E402

SEED = 0
STEPS = 1200
MODEL = dict(n_layer=2, n_head=4, n_embd=64, block_size=64)
PROMPTS = ["The cat sat on the", "The dog ran to the", "The bird flew to the", "Tom has a red ball .",
           "Once upon a time there was a", "The cow said"]
# per language: the training text, the tokenizer class, the default step count, the prompts shown after
LANGS = {
    "en": dict(text=read_corpus, tokenizer=WordTokenizer, steps=STEPS, prompts=PROMPTS),
    "zh": dict(text=read_corpus_zh, tokenizer=CharTokenizer, steps=800,  # held-out loss is lowest near 800
               prompts=["猫坐在", "狗跑到", "鸟飞到", "从前有一只", "现在是三点，下一个钟头是", "第三步之后是"]),
}


@contextlib.contextmanager
def deterministic(seed: int, threads: int = 2):
    """Seed torch, force deterministic kernels and a fixed thread count; restore all of it after.

    Example: ``with deterministic(0): model = TinyGPT(cfg)``
    """
    old = (torch.are_deterministic_algorithms_enabled(), torch.get_num_threads())
    with torch.random.fork_rng(devices=[]):  # the caller's global RNG state is left untouched
        torch.manual_seed(seed)
        torch.use_deterministic_algorithms(True)
        torch.set_num_threads(threads)
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(old[0])
            torch.set_num_threads(old[1])


def lr_at(step: int, steps: int, lr: float, warmup: int = 50) -> float:
    """Linear warm-up, then cosine decay to lr/10. Example: ``lr_at(0, 100, 1e-3) == 2e-5``"""
    if step < warmup:
        return lr * (step + 1) / warmup
    t = (step - warmup) / max(1, steps - warmup)
    return lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * t)))


def train(steps: int = STEPS, seed: int = SEED, batch_size: int = 32, lr: float = 3e-3,
          model_kw: dict | None = None, text: str | None = None, log_every: int = 0, lang: str = "en"):
    """Train a TinyGPT on the corpus of ``lang``; returns ``(model, tokenizer, log)`` with train/val
    losses in log.

    Example: ``model, tok, log = train(steps=20)`` (a few seconds; the shipped model uses STEPS);
    ``train(steps=20, lang="zh")`` for the character-level Chinese model.
    """
    spec = LANGS[lang]
    text = spec["text"]() if text is None else text
    tok = spec["tokenizer"].from_text(text)
    data = torch.tensor(tok.encode(text), dtype=torch.long)
    n_val = len(data) // 10  # the last 10% is held out, to report how well it generalises
    train_data, val_data = data[:-n_val], data[-n_val:]
    cfg = TinyGPTConfig(vocab_size=tok.vocab_size, **(model_kw or MODEL))
    T = cfg.block_size
    log = {"train_loss": [], "val_loss": None, "tokens": len(data), "seed": seed, "steps": steps}
    with deterministic(seed):
        model = TinyGPT(cfg)
        gen = torch.Generator().manual_seed(seed)  # batch positions, independent of init
        opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.99), weight_decay=0.01)
        model.train()
        for step in range(steps):
            ix = torch.randint(len(train_data) - T - 1, (batch_size,), generator=gen)  # (B,)
            x = torch.stack([train_data[i:i + T] for i in ix.tolist()])  # (B, T)
            y = torch.stack([train_data[i + 1:i + T + 1] for i in ix.tolist()])  # (B, T)
            logits = model(x).logits  # (B, T, V)
            loss = F.cross_entropy(logits.view(-1, cfg.vocab_size), y.view(-1))  # over B*T positions
            for g in opt.param_groups:
                g["lr"] = lr_at(step, steps, lr)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            log["train_loss"].append(loss.item())
            if log_every and (step % log_every == 0 or step == steps - 1):
                model.eval()
                print(f"step {step:5d}  loss {loss.item():.4f}  held-out {evaluate(model, val_data, T):.4f}",
                      flush=True)
                model.train()
        model.eval()
        log["val_loss"] = evaluate(model, val_data, T)
    return model, tok, log


@torch.no_grad()
def evaluate(model: TinyGPT, data: torch.Tensor, T: int) -> float:
    """Mean next-token loss over consecutive windows of `data`. Example: ``evaluate(model, ids, 64)``"""
    n = (len(data) - 1) // T
    x = data[: n * T].view(n, T)  # (n, T)
    y = data[1: n * T + 1].view(n, T)  # (n, T)
    logits = model(x).logits  # (n, T, V)
    return F.cross_entropy(logits.view(-1, logits.size(-1)), y.reshape(-1)).item()


@torch.no_grad()
def greedy(model: TinyGPT, tok, prompt: str, n: int = 8) -> str:
    """Greedy continuation with the KV cache (the prompt in one call, then one token per call).

    Example: ``greedy(model, tok, "The cat sat on the", 2) == "mat."``
    """
    ids = torch.tensor([tok.encode(prompt)])  # (1, T)
    out = model(ids, use_cache=True)
    new = []
    for _ in range(n):
        nxt = out.logits[:, -1].argmax(-1, keepdim=True)  # (1, 1)
        new.append(nxt.item())
        out = model(nxt, past_key_values=out.past_key_values, use_cache=True)
    return tok.decode(new)


def state_digest(model: TinyGPT) -> str:
    """sha256 of the weights serialised by safetensors. Example: ``state_digest(m1) == state_digest(m2)``"""
    from safetensors.torch import save

    tensors = {k: v.detach().cpu().contiguous()
               for k, v in model.state_dict().items() if k != "lm_head.weight"}  # tied: stored once
    return hashlib.sha256(save(tensors)).hexdigest()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lang", choices=sorted(LANGS), default="en", help="en: word-level English; zh: character-level Chinese")
    p.add_argument("--steps", type=int, default=None, help="default: the shipped model's step count")
    p.add_argument("--seed", type=int, default=SEED)
    p.add_argument("--out", default=None, help="default: the shipped file of --lang")
    args = p.parse_args(argv)
    spec = LANGS[args.lang]
    args.steps = spec["steps"] if args.steps is None else args.steps
    args.out = str(WEIGHTS[args.lang]) if args.out is None else args.out
    t0 = time.perf_counter()
    model, tok, log = train(steps=args.steps, seed=args.seed, log_every=100, lang=args.lang)
    secs = time.perf_counter() - t0
    corpus_sha = hashlib.sha256(spec["text"]().encode()).hexdigest()
    extra = {"seed": args.seed, "steps": args.steps, "torch": torch.__version__,
             "corpus_sha256": corpus_sha, "val_loss": round(log["val_loss"], 4)}
    size = save_tiny(model, tok, args.out, extra=extra)
    assert size <= MAX_FILE_BYTES, f"{args.out} is {size} bytes, over the {MAX_FILE_BYTES}-byte limit"
    tail = log["train_loss"][-50:]
    print(f"\nvocab {tok.vocab_size}, corpus {log['tokens']} tokens, params {model.num_params()}, "
          f"file {size} bytes")
    print(f"trained {args.steps} steps in {secs:.1f} s; train loss (last 50 steps) "
          f"{sum(tail) / len(tail):.4f}, held-out loss {log['val_loss']:.4f}")
    print(f"weights sha256 {state_digest(model)}")
    for prompt in spec["prompts"]:
        print(f"  {prompt!r} -> {greedy(model, tok, prompt, 8)!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
