"""Two decodes compared tick by tick: each tick's outputs, and what each run's cache holds after it.

A tick's *output* (what ``Comparison.outputs`` compares) is every attention layer's o for the tick's new query and
every state mixer's y for its last position. What the runs *carry* differs in kind (``cache_delta_norm``):

* an attention layer's KV cache keeps one key and one value per position, so an edited token's k/v stays in the
  cache as its own row and every later position is computed from it: ``kv_delta_by_position`` shows the rows
  before it equal, the row of the edited token and those after it apart;
* a state-space mixer (Mamba, Mamba-2, RWKV, ...) keeps one fixed-size state, ``DecodeTrace.state(tick, layer)``:
  the change is folded into it, no row of its own, and what follows may wash it out or carry it.

Every number is read from the traces (the cache rows a decode recorded; the state the model's cache kept).
"""
from __future__ import annotations

import torch

from ..batch import check_index
from ..decode import DecodeTrace
from ..errors import describe, fail
from ..state import StateTrace


def state_y(tr: StateTrace) -> torch.Tensor:
    """A mixer's y, ``[B, T, ...]``: the module's output when it is such a tensor, else the scan's output.

    Example::

        from tr_widgets.engine.state import trace_state
        st = trace_state("mamba", x=torch.randn(1, 3, 4), delta=torch.rand(1, 3, 4), A=-torch.ones(4, 2),
                         B=torch.randn(1, 3, 2), C=torch.randn(1, 3, 2))
        tuple(state_y(st).shape[:2]) == (1, 3)  # batch 1, 3 steps
    """
    out = tr.output
    ok = isinstance(out, torch.Tensor) and out.dim() >= 2 and tuple(out.shape[:2]) == (tr.batch_size, len(tr))
    return out if ok else tr.scan_output()  # [B, T, ...]


def tick_outputs(tr: DecodeTrace, t: int) -> torch.Tensor:
    """Tick ``t``'s outputs as one vector: each attention layer's o of the new query, each state mixer's y of its
    last position.

    Example: ``tick_outputs(dt, 2).shape[0] == dt.num_layers * dt.num_heads * dt.attention(2, 0).v.shape[-1]``
    """
    parts = [tr.attention(t, layer).output.reshape(-1) for layer in range(tr.num_layers)]  # [*b, 1, Ev] -> [N]
    for layer in range(tr.num_state_layers):
        y = state_y(tr.state_trace(t, layer))  # [B, T_call, ...]
        parts.append(y[:, -1].reshape(-1))  # the position this tick added
    return torch.cat(parts) if parts else torch.zeros(0)


def signature(tr: DecodeTrace) -> dict:
    """What two comparable decodes share. Example: ``signature(dt)["ticks"] == len(dt)``"""
    return {"ticks": len(tr), "layers": tr.num_layers, "heads": tr.num_heads, "state layers": tr.num_state_layers,
            "prompt tokens": len(tr.prompt_ids)}


def _pair(cmp, name) -> tuple:
    x, y = cmp.traces(name)
    if not isinstance(x, DecodeTrace):
        fail("name", "a compared pair of decodes (compare(decode_a, decode_b), or wi.before_output / after_output)",
             describe(x), "compare the two DecodeTraces: tr_widgets.compare(wi.before_output, wi.after_output)")
    return x, y


def _flat(parts) -> torch.Tensor:
    parts = parts if isinstance(parts, (tuple, list)) else (parts,)
    return torch.cat([p.detach().reshape(-1).double() for p in parts])


def _kv(tr: DecodeTrace, t: int, layer: int) -> tuple:
    at = tr.attention(t, layer)  # the keys and values the tick's query saw: the cache after the tick
    return at.k, at.v


def cache_delta_norm(cmp, kind: str = "kv", name: str | None = None) -> torch.Tensor:
    """‖after − before‖ (L2, in float64) of what each layer's cache holds after each tick, ``[ticks, layers]``:
    ``kind="kv"``: every cached key and value of an attention layer; ``kind="state"``: a state mixer's state.

    Example::

        run = lambda: tr_widgets.decode(model, "The cat sat on the", 4, tokenizer=tok)
        wi = tr_widgets.what_if(model, run, tr_widgets.Edit.token(2, "dog"))
        d = cache_delta_norm(tr_widgets.compare(wi.before_output, wi.after_output), "kv")  # [4 ticks, 2 layers]
        float(d[:2].abs().sum()) == 0.0          # ticks 0-1: the same cache
        bool((d[2:] > 0).all()) == True          # from tick 2 on the edited token's k/v is in it
    """
    x, y = _pair(cmp, name)
    if kind not in ("kv", "state"):
        fail("kind", "'kv' (attention layers' KV cache) or 'state' (state-space mixers' state)", repr(kind),
             "pass kind='kv' or kind='state'")
    layers = x.num_layers if kind == "kv" else x.num_state_layers
    if not layers:
        fail("kind", f"a kind of layer the decode has ({x.num_layers} attention, {x.num_state_layers} state)",
             repr(kind), f"pass kind={'state' if kind == 'kv' else 'kv'!r}")
    out = torch.zeros(len(x), layers, dtype=torch.float64)
    for t in range(len(x)):
        for layer in range(layers):
            a, b = ((_kv(x, t, layer), _kv(y, t, layer)) if kind == "kv" else
                    (x.state(t, layer), y.state(t, layer)))
            out[t, layer] = torch.linalg.vector_norm(_flat(b) - _flat(a))
    return out


def kv_delta_by_position(cmp, tick: int | None = None, name: str | None = None) -> torch.Tensor:
    """‖after − before‖ of each cached position's keys and values, every attention layer together, after
    ``tick`` (None: the last), ``[positions]``: 0 before the first edited position, apart from it on.

    Example::

        run = lambda: tr_widgets.decode(model, "The cat sat on the", 4, tokenizer=tok)
        wi = tr_widgets.what_if(model, run, tr_widgets.Edit.token(2, "dog"))
        rows = kv_delta_by_position(tr_widgets.compare(wi.before_output, wi.after_output))  # 8 positions
        (rows > 0).tolist() == [False] * 6 + [True] * 2   # 'dog' sits at position 6 (tick 2's query)
    """
    x, y = _pair(cmp, name)
    if not x.num_layers:
        fail("name", "decodes with attention layers (a KV cache)", f"{x.model_name} with none",
             "use cache_delta_norm(kind='state') for a state-space model")
    t = len(x) - 1 if tick is None else check_index("tick", tick, len(x), "pick an existing tick")
    total = 0
    for layer in range(x.num_layers):
        (ka, va), (kb, vb) = _kv(x, t, layer), _kv(y, t, layer)
        d = torch.cat([(kb - ka).double(), (vb - va).double()], dim=-1)  # [..., S, 2E]
        total = total + d.movedim(-2, 0).reshape(d.shape[-2], -1).pow(2).sum(1)  # [S]
    return total.sqrt()
