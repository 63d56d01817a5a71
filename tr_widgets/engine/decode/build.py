"""decode(model, prompt, n): generate token by token and record every tick (see ``trace.py``).

Each tick is one forward pass: with a KV cache only the newest token is fed and every earlier
position's keys/values are reused; without one the whole sequence is fed again. The next token is the
argmax of the last position's logits (greedy, as Hugging Face ``generate(do_sample=False)``), or a draw
from softmax(logits / temperature) with a seeded generator.

Attention is seen through one :func:`~tr_widgets.engine.capture.capture` around the whole loop (the
same machinery as ``capture(model)``), drained after each tick: any model whose attention calls
``F.scaled_dot_product_attention`` or writes softmax(q·kᵀ)·v by hand works (the shipped tiny model,
Hugging Face causal LMs with sdpa or eager attention; dense, sliding-window and grouped-query caches).
The cache goes back in under the name the model's forward takes (``cache`` in transformers 5.25, which
deprecates ``past_key_values`` / ``cache_params``; those older names where a forward still has them,
``state`` for RWKV), and is read back from the output under the same name (:func:`returned_cache`). A forward
that takes ``position_ids`` gets each tick's positions; a model whose output returns no cache (RecurrentGemma,
whose cache counts no tokens) gets one of decode's own, passed in every tick (``states.py``). State-space and
linear-attention mixers are recorded by the same capture as StateTraces, one per layer per tick, each continuing
the state the cache carried from the tick before (``states.py``). A tick's SDPA calls are drained as their
operands, no trace object built (``capture.sdpa.SdpaCall``). Nothing is synchronised with the device inside a
tick except the clock on CUDA; token ids and probabilities are read back once, after the last tick.
"""
from __future__ import annotations

import contextvars
import dataclasses
import inspect
import math
import re
import time
import warnings

import torch
from torch import nn

from ..capture import capture
from ..errors import describe, fail
from .recording import Recording, labels_for
from .states import CACHE_ARGS, cache_layer_bytes, kept_cache, split_traces, takes_positions
from .trace import DecodeTrace


# a what-if's token edits (engine/whatif/tokens.py), None otherwise: ``begin`` may resume a recorded decode at the
# edited tick (its cache copied), ``tick`` notes the cache to resume from, or feeds the edited token instead
STEER: contextvars.ContextVar = contextvars.ContextVar("tr_widgets_decode_steer", default=None)


def sync(device) -> None:
    """Wait for the device, so a wall-clock reading covers its work (a no-op off CUDA).

    Example::

        sync("cpu")  # a no-op off CUDA; on a GPU it waits for queued kernels before a timer is read
    """
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def _device(model) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


def _prompt_ids(prompt, tokenizer, device) -> torch.Tensor:
    """``prompt`` as a [1, T] long tensor on ``device``, or a clear error."""
    if tokenizer is not None and (isinstance(tokenizer, (str, bytes)) or not (
            callable(getattr(tokenizer, "encode", None)) or callable(getattr(tokenizer, "decode", None)))):
        fail("tokenizer", "a tokenizer object with .encode(text) and .decode(ids) (or None)",
             " ".join(describe(tokenizer).split()),
             "pass the loaded tokenizer (model, tok = tr_widgets.models.load_tiny(); or "
             "AutoTokenizer.from_pretrained(name)), not its name")
    if isinstance(prompt, str):
        if tokenizer is None:
            fail("tokenizer", "a tokenizer with .encode(text) when prompt is a string", "None",
                 "pass tokenizer=tok (model, tok = tr_widgets.models.load_tiny()), or a tensor of token ids")
        if not hasattr(tokenizer, "encode"):
            fail("tokenizer", "an object with .encode(text) -> list[int]", describe(tokenizer),
                 "pass the model's tokenizer")
        ids = list(tokenizer.encode(prompt))
        if not ids:
            fail("prompt", "text with at least one token", repr(prompt), "pass a non-empty prompt")
        unk = getattr(tokenizer, "unk_id", None)
        if unk is not None and unk in ids and hasattr(tokenizer, "tokens"):
            words = [w for w in re.findall(r"\w+|[^\w\s]", prompt) if tokenizer.encode(w) == [unk]]
            warnings.warn(f"prompt: {', '.join(map(repr, words)) or 'some words'} not in the tokenizer's vocabulary "
                          "became <unk>; the model has never seen them", UserWarning, stacklevel=3)
        return torch.tensor([ids], dtype=torch.long, device=device)
    if not isinstance(prompt, torch.Tensor):
        fail("prompt", "a string (with tokenizer=) or a 1-D/2-D tensor of token ids", describe(prompt),
             "pass e.g. 'The cat sat on the' with tokenizer=tok, or torch.tensor([[5, 9, 2]])")
    if prompt.is_floating_point() or prompt.is_complex() or prompt.dtype == torch.bool:
        fail("prompt", "an integer tensor of token ids", f"dtype {prompt.dtype}", "convert it with prompt.long()")
    if prompt.dim() == 1:
        prompt = prompt[None]  # [T] -> [1, T]
    if prompt.dim() != 2 or prompt.shape[0] != 1 or prompt.shape[1] == 0:
        fail("prompt", "one non-empty sequence: shape [T] or [1, T]", f"shape {tuple(prompt.shape)}",
             "decode one sequence at a time, e.g. prompt[0]")
    return prompt.to(device=device, dtype=torch.long)


def _vocab(model) -> int | None:
    """The number of token ids the model embeds (its input embedding's rows), or None if unknown."""
    get = getattr(model, "get_input_embeddings", None)
    emb = get() if callable(get) else None
    n = getattr(emb, "num_embeddings", None)
    if not isinstance(n, int):
        n = getattr(getattr(model, "config", None), "vocab_size", None)
    return n if isinstance(n, int) and n > 0 else None


def _check_ids(ids: torch.Tensor, vocab: int | None) -> None:
    if vocab is None:
        return
    lo, hi = int(ids.min()), int(ids.max())
    if lo < 0 or hi >= vocab:
        bad = lo if lo < 0 else hi
        fail("prompt", f"token ids in [0, {vocab - 1}] (the model's vocabulary)", f"id {bad}",
             "encode the prompt with the model's own tokenizer, or clamp the ids into range")


def cache_arg(model) -> str:
    """The name under which the model's forward takes its cache: the first of ``cache`` (transformers ≥ 5.25),
    ``past_key_values``, ``cache_params``, ``state`` in its signature.

    Example::

        class LM(nn.Module):
            def forward(self, input_ids, cache=None, use_cache=False): ...
        cache_arg(LM()) == "cache"      # a transformers 5.25 model's forward also says "cache"
    """
    try:
        params = inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return "past_key_values"
    for name in CACHE_ARGS:
        if name in params:
            return name
    return "past_key_values"


def returned_cache(out, passed_as: str):
    """The cache a forward returned: read under the name it was passed (then the other known names), and only
    from real fields, so transformers 5.25's deprecated aliases (``out.past_key_values`` logs "Use `cache`
    instead") are never touched.

    Example::

        model = tr_widgets.load_tiny()[0]
        out = model(torch.tensor([[1, 2]]), use_cache=True)
        returned_cache(out, cache_arg(model)) is out.past_key_values   # the tiny model's own name for it
    """
    fields = getattr(out, "__dataclass_fields__", None)  # ModelOutput / our outputs: read real fields only
    for name in (passed_as, *CACHE_ARGS):
        if fields is None or name in fields:
            value = getattr(out, name, None)
            if value is not None:
                return value
    return None


def _logits(model, out) -> torch.Tensor:
    """The model output's ``.logits`` ([1, T, V]), or one TraceInputError naming the model."""
    logits = getattr(out, "logits", None)
    if not isinstance(logits, torch.Tensor) or logits.dim() != 3:
        fail("model", "a causal language model whose forward returns .logits [batch, T, vocab] "
             "(an LM head)", f"{type(model).__name__} returning {type(out).__name__}"
             + (" (no .logits)" if logits is None else f" with .logits of shape {tuple(logits.shape)}"),
             "pass the model with its LM head, e.g. GPT2LMHeadModel / AutoModelForCausalLM instead of "
             "GPT2Model / AutoModel, or the tiny model (tr_widgets.load_tiny())")
    return logits


def _check_args(model, max_new_tokens, sample, seed, temperature, top_k, use_cache=True) -> None:
    if not isinstance(use_cache, bool):
        fail("use_cache", "True or False", describe(use_cache), "pass use_cache=False to recompute every tick")
    if not isinstance(model, nn.Module):
        fail("model", "a torch nn.Module language model (tiny model or Hugging Face causal LM)",
             describe(model), "pass model from tr_widgets.models.load_tiny() or GPT2LMHeadModel(...)")
    try:
        params = inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        params = {}
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    if params and not takes_any and not ("use_cache" in params and any(n in params for n in CACHE_ARGS)):
        fail("model", "a causal language model whose forward takes (input_ids, cache= or past_key_values=, use_cache=) "
             "and returns .logits", f"{type(model).__name__}.forward{inspect.signature(model.forward)}",
             "pass the tiny model (tr_widgets.load_tiny()) or a Hugging Face *ForCausalLM / *LMHeadModel")
    if not isinstance(max_new_tokens, int) or isinstance(max_new_tokens, bool) or max_new_tokens < 1:
        fail("max_new_tokens", "an int >= 1", describe(max_new_tokens), "pass e.g. max_new_tokens=5")
    if not isinstance(sample, bool):
        fail("sample", "True or False", describe(sample), "pass sample=True to sample, False for greedy")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        fail("seed", "None or an int", describe(seed), "pass e.g. seed=0")
    if (isinstance(temperature, bool) or not isinstance(temperature, (int, float))
            or not math.isfinite(temperature) or temperature <= 0):
        fail("temperature", "a finite number > 0", describe(temperature), "pass e.g. temperature=1.0")
    if not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 1:
        fail("top_k", "an int >= 1 (candidates recorded per tick)", describe(top_k), "pass e.g. top_k=5")


POSITION_LIMITS = ("n_positions", "max_position_embeddings", "block_size")  # the tiny model's is block_size


def _max_positions(model) -> int | None:
    """The model's position limit. Hugging Face's names first: a config may use ``block_size`` for something
    else (MiniMax: its lightning attention's block of tokens)."""
    cfg = getattr(model, "config", None)
    for name in POSITION_LIMITS:
        n = getattr(cfg, name, None)
        if isinstance(n, int) and n > 0:
            return n
    return None


def _forward_options(model) -> dict:
    """Extra forward arguments: Hugging Face models compute logits for the last position only."""
    try:
        params = inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return {}
    return {"logits_to_keep": 1} if "logits_to_keep" in params else {}


def decode(model, prompt, max_new_tokens: int, use_cache: bool = True, tokenizer=None, sample: bool = False,
           seed: int | None = None, temperature: float = 1.0, top_k: int = 5) -> DecodeTrace:
    """Generate ``max_new_tokens`` tokens one tick at a time and record each tick.

    ``prompt``: a string (needs ``tokenizer``) or a [T] / [1, T] tensor of ids. Greedy unless
    ``sample=True`` (then ``seed`` makes it reproducible; ``temperature`` divides the logits).
    ``top_k`` candidates and their probabilities are recorded per tick. ``seed`` is ignored when greedy.

    Example::

        model, tok = tr_widgets.models.load_tiny()
        tr = decode(model, "The cat sat on the", 3, tokenizer=tok)
        tr.ticks[0].token, tr.ticks[0].topk_probs[0]     # 'mat', 0.9...
        tr.weights(1, layer=0, head=0)                   # the new query over the 6 cached positions
    """
    _check_args(model, max_new_tokens, sample, seed, temperature, top_k, use_cache)
    device = _device(model)
    ids = _prompt_ids(prompt, tokenizer, device)  # [1, T0]
    limit = _max_positions(model)
    if limit is not None and ids.shape[1] + max_new_tokens - 1 > limit:
        fail("max_new_tokens", f"prompt length + max_new_tokens - 1 <= {limit} (the model's positions)",
             f"{ids.shape[1]} + {max_new_tokens} - 1", f"pass max_new_tokens <= {limit - ids.shape[1] + 1}")
    _check_ids(ids, _vocab(model))
    gen = None
    if sample and seed is not None:
        gen = torch.Generator(device=device).manual_seed(seed)
    was_training = model.training
    model.eval()
    rec, extra, arg = Recording(), _forward_options(model), cache_arg(model)
    own, at = kept_cache(model) if use_cache else None, takes_positions(model)  # (states.py)
    seq, past, feed, start, steer = ids, own, ids, 0, STEER.get()
    try:
        if steer is not None:  # a what-if's Edit.token: maybe a restart from a copied cache (whatif/tokens.py)
            start, seq, past, feed = steer.begin(model, ids, tokenizer, (max_new_tokens, use_cache, sample, seed,
                                                                         temperature, top_k), rec, gen, past)
            own = past if own is not None else None  # a cache of decode's own: the one it (re)starts from
        with torch.no_grad(), capture(model, merge_cells=False) as cap:  # no loops of module calls: not decode's
            for t in range(start, max_new_tokens):
                P = seq.shape[1] - feed.shape[1]  # positions reused from the cache
                sync(device)
                t0 = time.perf_counter()
                out = model(feed, use_cache=use_cache, **{arg: past}, **extra,
                            **({"position_ids": torch.arange(P, seq.shape[1], device=device)[None]} if at else {}))
                logits = _logits(model, out)[:, -1, :].float()  # [1, V]
                probs = torch.softmax(logits / temperature, dim=-1)  # [1, V]
                top_p, top_i = probs.topk(min(top_k, probs.shape[-1]), dim=-1)  # [1, k]
                nxt = (torch.multinomial(probs, 1, generator=gen) if sample
                       else logits.argmax(dim=-1, keepdim=True))  # [1, 1]
                sync(device)
                rec.seconds.append(time.perf_counter() - t0)
                rec.add(t, *split_traces(cap.drain(calls=True)), P, feed.shape[1], use_cache)
                rec.chosen.append(nxt[0, 0])
                rec.top_p.append(top_p[0])
                rec.top_i.append(top_i[0])
                past = (returned_cache(out, arg) if own is None else own) if use_cache else None
                rec.cache_bytes.append(cache_layer_bytes(past, rec.state_modules or ()))  # what the model keeps
                seq = torch.cat([seq, nxt], dim=1)  # [1, T+1]
                feed = nxt if use_cache else seq
                if steer is not None:
                    seq, feed = steer.tick(model, t, seq, past, feed, rec, gen)
    finally:
        model.train(was_training)
    rec.names = [cap.name_of(m) for m in rec.modules] if rec.modules is not None else None
    rec.state_names = [cap.name_of(m) for m in rec.state_modules or []]
    rec.states = [[_slim(st, f"{n} @ tick {t}") for n, st in zip(rec.state_names, row)]
                  for t, row in enumerate(rec.states)]
    trace = rec.finish(model, ids, tokenizer, use_cache, sample, seed, temperature, top_k, device)
    return trace if steer is None else steer.end(trace)  # the ticks fed an edited token, named on the trace


def _slim(st, name: str):
    """A tick's StateTrace, named, without its copy of the recurrent state from before the call (its first
    checkpoint holds that already): only the conv buffer of the snapshot is read after the build."""
    initial = None if st.initial is None else {k: v for k, v in st.initial.items() if k == "conv"}
    return dataclasses.replace(st, name=name, initial=initial)
