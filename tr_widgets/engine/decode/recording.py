"""What ``decode`` collects tick by tick (``Recording``), and how it becomes a :class:`DecodeTrace`.

Per tick and attention layer: the newest query row, the keys/values the tick appended (all of them without
a cache) and the last row of the mask; per state layer: the tick's StateTrace; per tick: the bytes the
model's cache holds per layer. Token ids and probabilities stay on the device until ``finish``.
"""
from __future__ import annotations

import torch

from ..attention import ChainTrace
from ..errors import fail
from ..text import token_labels
from .trace import DecodeTrace, Tick

CONTEXT = 4  # ids of context before a candidate when labelling it (token_labels' advice)


def labels_for(tokenizer, ids: list[int]) -> list[str]:
    """One readable label per id (:func:`~tr_widgets.engine.text.token_labels`; ``#id`` without a tokenizer).

    Example: ``labels_for(tok, tok.encode("The cat")) == ["The", "cat"]``
    """
    return token_labels(tokenizer, list(ids))


def candidate_labels(tokenizer, context: list[int], candidates: list[int]) -> list[str]:
    """The label each candidate would get after ``context`` (a few ids of it), one by one.

    Example: ``candidate_labels(tok, tok.encode("The cat sat on the"), [7, 9])  # ['mat', 'dog']``
    """
    if tokenizer is None:  # '#id' labels do not depend on the context: one call for all candidates
        return token_labels(None, list(candidates))
    ctx = list(context[-CONTEXT:])
    return [token_labels(tokenizer, ctx + [c])[-1] for c in candidates]


def last_row_mask(at) -> torch.Tensor | None:
    """The mask row of the last query as SDPA applied it: [..., 1, S] bool/float, or None (no mask).

    Example::

        last_row_mask(trace_attention(q, k, v, is_causal=True))    # None when L >= S
    """
    if at.is_causal:  # top-left aligned: the last query (L-1) sees keys 0..L-1
        if at.L >= at.S:
            return None
        return (torch.arange(at.S, device=at.q.device) <= at.L - 1)[None]  # [1, S]
    if at.attn_mask is None:
        return None
    m = at.attn_mask
    return (m[..., -1:, :] if m.dim() >= 2 and m.shape[-2] > 1 else m).clone()  # [..., 1, S]


def _row(t, L):
    """An operand of a chain step cut to the last query's row (``[..., 1, S]``), so a tick keeps O(S)."""
    if isinstance(t, torch.Tensor) and t.dim() >= 2 and t.shape[-2] == L and L > 1:
        return t[..., -1:, :].clone()
    return t.clone() if isinstance(t, torch.Tensor) else t


class Recording:
    """What the loop collects; token ids and probabilities stay on the device until ``finish``.

    Example::

        r = Recording()
        r.add(0, [(None, at)], [], 0, 6, use_cache=False)  # tick 0: one attention call, no cache, 6 keys
        r.q[0][0].shape == (1, 2, 1, 8)  # of at's [1, 2, 6, 8] queries only the newest row is kept
        r.layer_keys == [(6,)]
    """

    def __init__(self):
        self.seconds, self.chosen, self.top_p, self.top_i = [], [], [], []
        self.q, self.k, self.v, self.mask, self.layer_keys, self.reuse = [], [], [], [], [], []
        self.names, self.modules, self.scales, self.heads = None, None, [], 0
        self.state_names, self.state_modules, self.states, self.cache_bytes = [], None, [], []

    def add(self, t, traces, states, P, n_new, use_cache) -> None:
        mods = [m for m, _ in states]
        if self.state_modules is None:
            self.state_modules = mods
        elif [id(m) for m in mods] != [id(m) for m in self.state_modules]:
            fail("model", "the same state mixers at every tick", f"{len(mods)} at tick {t}, "
                 f"{len(self.state_modules)} at tick 0", "decode a model whose forward calls each mixer once")
        self.states.append([st for _, st in states])
        modules = [m for m, _ in traces]
        if self.modules is None:
            self.modules = modules
            self.scales = [at.scale for _, at in traces]
            self.heads = traces[0][1].q.shape[-3] if traces and traces[0][1].q.dim() >= 3 else 1
        elif [id(m) for m in modules] != [id(m) for m in self.modules]:
            fail("model", "the same attention calls at every tick", f"{len(modules)} calls at tick {t}, "
                 f"{len(self.modules)} at tick 0", "decode a model whose forward calls each attention layer once")
        qs, ks, vs, ms, keys = [], [], [], [], []
        for _, at in traces:
            qs.append(at.q[..., -1:, :].clone())  # [B, H, 1, E]: the newest query only
            if use_cache:  # the positions this tick appended, copied out of the grown cache
                ks.append(at.k[..., at.S - n_new:, :].clone())  # [B, H, n_new, E]
                vs.append(at.v[..., at.S - n_new:, :].clone())
            else:  # recomputed from scratch this tick: keep the tick's own tensors
                ks.append(at.k)  # [B, H, S, E]
                vs.append(at.v)
            if isinstance(at, ChainTrace):  # hand-written (eager) attention: its steps, cut to the last row
                steps = tuple((st[0],) + tuple(_row(x, at.L) for x in st[1:]) for st in at.steps)
                ms.append(("chain", steps, None if at.sinks is None else _row(at.sinks, at.L), at.softmax_dtype))
            else:
                ms.append(last_row_mask(at))
            keys.append(at.S)
        self.q.append(qs), self.k.append(ks), self.v.append(vs), self.mask.append(ms)
        self.layer_keys.append(tuple(keys))
        self.reuse.append((P, n_new))

    def finish(self, model, ids, tokenizer, use_cache, sample, seed, temperature, top_k, device) -> DecodeTrace:
        chosen = torch.stack(self.chosen).tolist()  # one read-back for every tick
        top_p = torch.stack(self.top_p).tolist()
        top_i = torch.stack(self.top_i).tolist()
        prompt = ids[0].tolist()
        tokens = labels_for(tokenizer, prompt + chosen)
        seq = prompt + chosen
        ticks = []
        for t, (P, n_new) in enumerate(self.reuse):
            S = P + n_new
            keys = self.layer_keys[t]
            ticks.append(Tick(
                index=t, query_position=S - 1, token_id=chosen[t], token=tokens[S], topk_ids=top_i[t],
                topk_tokens=candidate_labels(tokenizer, seq[:S], top_i[t]), topk_probs=top_p[t],
                keys=keys[0] if keys else S, reused=range(0, P) if use_cache else range(0),
                appended=range(P, S) if use_cache else range(0, S), cache_len=S if use_cache else 0,
                layer_keys=keys, seconds=self.seconds[t]))
        text = new_text = None
        if tokenizer is not None and hasattr(tokenizer, "decode"):
            text, new_text = str(tokenizer.decode(prompt + chosen)), str(tokenizer.decode(chosen))
        return DecodeTrace(
            model_name=type(model).__name__, prompt_ids=prompt, new_ids=chosen, tokens=tokens, ticks=ticks,
            use_cache=use_cache, sample=sample, seed=seed if sample else None, temperature=float(temperature),
            top_k=top_k, layer_names=list(self.names or []), num_heads=self.heads, device=str(device),
            text=text, new_text=new_text, q_rows=self.q, k_new=self.k, v_new=self.v, mask_rows=self.mask,
            scales=self.scales, state_layer_names=self.state_names, state_traces=self.states,
            cache_bytes=self.cache_bytes)
