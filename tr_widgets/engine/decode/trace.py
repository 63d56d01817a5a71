"""DecodeTrace: what :func:`~tr_widgets.engine.decode.decode` recorded, one tick (one new token) at a time.

A language model generates by repeating one step: P(w_t | w_1..t-1) from a forward pass, pick w_t,
feed it back. Each repetition is a tick of the clock. With a KV cache a tick computes keys and values
for the new position only and *reuses* every earlier position's; without one it recomputes them all.

What is kept, and why: per tick and layer only the new query row q [B, H, 1, E] and, with a cache, the
keys/values of the positions that tick appended (without a cache, the tick's whole k/v, because it was
recomputed). The attention of the new query over every key is derived on demand with
:func:`~tr_widgets.engine.attention.trace_attention` (softmax(q·Kᵀ·scale) over S keys, "Attention Is
All You Need" eq. 1): a [B, H, 1, S] row, never a T×T matrix.

State-space and linear-attention layers (Mamba, Mamba-2, RWKV, Gated DeltaNet) keep one StateTrace per
tick instead (``state_traces``): the tick's call, continuing the state the cache carried over. Their state
has a fixed size, unlike a KV cache: ``state_bytes`` and ``kv_bytes`` are measured on the cache object
after every tick (``states.cache_layer_bytes``), per layer with ``layer_bytes``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ..attention import AttentionTrace, ChainTrace, trace_attention
from ..batch import batch_names, check_index
from ..errors import fail
from ..files.saving import Saveable
from ..state import StateTrace


@dataclass(frozen=True, eq=False)
class Tick:
    """One clock cycle: the forward pass that chose one new token.

    Example: ``tk = trace.ticks[0]; tk.token, tk.topk_probs[0], list(tk.reused), list(tk.appended)``
    """

    index: int
    query_position: int  # position of the query whose output chose the token (the last fed position)
    token_id: int
    token: str  # label of the chosen token (it will sit at position query_position + 1)
    topk_ids: list[int]
    topk_tokens: list[str]
    topk_probs: list[float]  # softmax(logits / temperature), largest first
    keys: int  # S: positions the new query attended over (its own included)
    reused: range  # positions whose k/v came from the cache (empty without a cache)
    appended: range  # positions whose k/v this tick computed (without a cache: all of them again)
    cache_len: int  # positions the cache holds after the tick (0 without a cache)
    layer_keys: tuple[int, ...]  # S per layer (all equal for a plain full cache)
    seconds: float  # wall time of the tick (forward + choice; CUDA synchronised)

    def __repr__(self) -> str:
        return (f"Tick({self.index}, token={self.token!r}, p={self.topk_probs[0] if self.topk_probs else 0:.3f}, "
                f"keys={self.keys}, reused={len(self.reused)}, appended={len(self.appended)})")


@dataclass(frozen=True, eq=False)
class DecodeTrace(Saveable):
    """What :func:`decode` returns: ticks, tokens and the lazily derived per-tick attention.

    Example::

        tr = decode(model, "The cat sat on the", 3, tokenizer=tok)
        tr.new_text, tr.ticks[0].token          # 'mat . The', 'mat'
        tr.attention(1, 0)                       # AttentionTrace: L=1 query over S cached keys
        tr.weights(1, layer=0, head=2)           # [S] weights of that head
    """

    model_name: str
    prompt_ids: list[int]
    new_ids: list[int]
    tokens: list[str]  # a label per position: prompt tokens, then generated ones
    ticks: list[Tick]
    use_cache: bool
    sample: bool
    seed: int | None
    temperature: float
    top_k: int
    layer_names: list[str]
    num_heads: int
    device: str
    text: str | None = None  # tokenizer.decode(prompt + new) when a tokenizer was given
    new_text: str | None = None
    q_rows: list = field(default_factory=list, repr=False)  # [tick][layer] q row [B, H, 1, E]
    k_new: list = field(default_factory=list, repr=False)  # [tick][layer] appended (cache) or all (no cache) keys
    v_new: list = field(default_factory=list, repr=False)
    mask_rows: list = field(default_factory=list, repr=False)  # [tick][layer] mask row [..., 1, S] or None
    scales: list = field(default_factory=list, repr=False)  # [layer]
    state_layer_names: list = field(default_factory=list)  # the state mixers, in call order
    state_traces: list = field(default_factory=list, repr=False)  # [tick][state layer] StateTrace of that call
    cache_bytes: list = field(default_factory=list, repr=False)  # [tick] (kv bytes per layer, state bytes per layer)
    forced: list = field(default_factory=list)  # [(tick, id)]: fed an edited token (Edit.token), not tick − 1's
    derived: dict = field(default_factory=dict, repr=False)  # per-layer caches and traces, built on first use

    # -- sizes -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.ticks)

    @property
    def num_layers(self) -> int:
        """Attention layers seen per tick (SDPA calls). Example: ``decode(*load_tiny(), ...).num_layers == 2``"""
        return len(self.layer_names)

    @property
    def seconds(self) -> list[float]:
        """Wall time of each tick. Example: ``max(tr.seconds[1:]) < tr.seconds[0]`` often (the prompt tick)."""
        return [tk.seconds for tk in self.ticks]

    @property
    def cache_lengths(self) -> list[int]:
        """Positions held in the cache after each tick (0s without a cache). Example: ``tr.cache_lengths``"""
        return [tk.cache_len for tk in self.ticks]

    # -- the fixed-size state, and the bytes each kind of cache holds -------------------------
    @property
    def num_state_layers(self) -> int:
        """State-space / linear-attention layers seen per tick. Example: ``decode(mamba, ids, 4).num_state_layers``"""
        return len(self.state_layer_names)

    def _check_state(self, tick, layer) -> None:
        check_index("tick", tick, len(self.ticks), "pick an existing tick")
        if not self.state_layer_names:
            fail("layer", "a model with state-space or linear-attention mixers (Mamba, Mamba-2, RWKV, Gated DeltaNet)",
                 f"{self.model_name}, where none ran", "use attention(tick, layer) for an attention model")
        check_index("layer", layer, self.num_state_layers, "pick an existing state layer")

    def state_trace(self, tick: int, layer: int) -> StateTrace:
        """The StateTrace of ``layer``'s call at ``tick``: the prompt's tokens at the first tick (with a cache),
        one token afterwards, starting from the state the cache carried over.

        Example::

            st = tr.state_trace(3, 0)
            len(st), st.quantities(-1)["A_bar"].shape     # 1, [1, d_inner, d_state] (Mamba)
        """
        self._check_state(tick, layer)
        return self.state_traces[tick][layer]

    def state(self, tick: int, layer: int):
        """``layer``'s recurrent state right after ``tick``, as the model's cache keeps it (Mamba: h
        [1, d_inner, d_state]; Mamba-2: [1, heads, head_dim, d_state]; RWKV: (att_shift, num, den, max)).

        Example::

            torch.equal(tr.state(5, 0), tr.state_trace(5, 0).state(-1))    # True
        """
        return self.state_trace(tick, layer).state(-1)

    def layer_bytes(self, tick: int, kind: str = "state") -> tuple[int, ...]:
        """Bytes per layer the model's cache held after ``tick``: ``kind="state"`` (fixed) or ``"kv"`` (grows).

        Example::

            tr.layer_bytes(0, "kv"), tr.layer_bytes(9, "kv")     # GPT-2: grows by 2·H·E·4 bytes per tick
        """
        check_index("tick", tick, len(self.ticks), "pick an existing tick")
        if kind not in ("state", "kv"):
            fail("kind", "'state' or 'kv'", repr(kind), "pass kind='kv' for attention layers")
        if not self.cache_bytes:
            return ()
        return self.cache_bytes[tick][0 if kind == "kv" else 1]

    @property
    def state_bytes(self) -> list[int]:
        """Bytes of every state layer's fixed state (conv buffer included) after each tick: constant.

        Example: ``set(decode(mamba, ids, 8).state_bytes)  # one value``
        """
        return [sum(self.layer_bytes(t, "state")) for t in range(len(self.ticks))]

    @property
    def kv_bytes(self) -> list[int]:
        """Bytes of every attention layer's KV cache after each tick (0 without a cache): grows a position a tick.

        Example: ``decode(gpt2, ids, 8).kv_bytes  # [P·b, (P+1)·b, ...]``
        """
        return [sum(self.layer_bytes(t, "kv")) for t in range(len(self.ticks))]

    def __repr__(self) -> str:
        mode = f"sampled(seed={self.seed}, T={self.temperature:g})" if self.sample else "greedy"
        text = self.text if self.text is not None else " ".join(self.tokens)
        text = text if len(text) <= 80 else text[:77] + "..."
        return (f"DecodeTrace(model={self.model_name}, prompt={len(self.prompt_ids)} tokens, "
                f"ticks={len(self.ticks)}, cache={'on' if self.use_cache else 'off'}, {mode}, "
                f"layers={self.num_layers}, heads={self.num_heads}"
                f"{f', state_layers={self.num_state_layers}' if self.state_layer_names else ''}"
                f"{f', forced={[tuple(f) for f in self.forced]}' if self.forced else ''}, text={text!r})")

    # -- attention, derived on demand --------------------------------------------------------
    def _check(self, tick, layer) -> None:
        check_index("tick", tick, len(self.ticks), "pick an existing tick")
        if not self.layer_names:
            fail("layer", "a model whose attention calls F.scaled_dot_product_attention or softmax(q·kᵀ)·v",
                 f"{self.model_name}, where no such call was seen",
                 "load a Hugging Face model with attn_implementation='sdpa' (the default) or 'eager'")
        check_index("layer", layer, self.num_layers, "pick an existing layer")

    def _kv(self, tick: int, layer: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values the new query of ``tick`` saw: [B, H, S, E] each."""
        if not self.use_cache:
            return self.k_new[tick][layer], self.v_new[tick][layer]
        if ("kv", layer) not in self.derived:
            # one concatenation per layer, on first use: the cache as it stood after the last tick
            self.derived[("kv", layer)] = (torch.cat([ks[layer] for ks in self.k_new], dim=-2),  # [B, H, S_last, E]
                                          torch.cat([vs[layer] for vs in self.v_new], dim=-2))
        K, V = self.derived[("kv", layer)]
        S = self.ticks[tick].layer_keys[layer]
        end = self.ticks[tick].query_position + 1  # positions appended up to this tick
        # the cache of that tick: its last S positions (all of them for a full cache; the window for a
        # sliding one, whose oldest keys were dropped): a view, no copy
        return K[..., end - S:end, :], V[..., end - S:end, :]

    def attention(self, tick: int, layer: int) -> AttentionTrace:
        """The new query's attention over every key of ``tick``, ``layer``: an AttentionTrace, L=1.

        Key labels (``tokens``) are the tokens at those positions. Example::

            at = tr.attention(2, 0)
            at.weights[0, :, 0]        # [H, S]: every head's weights over the cache
        """
        self._check(tick, layer)
        key = ("at", tick, layer)
        if key not in self.derived:
            k, v = self._kv(tick, layer)
            tk = self.ticks[tick]
            S, end = k.shape[-2], tk.query_position + 1
            labels = self.tokens[max(0, end - S):end]
            labels = ["?"] * (S - len(labels)) + labels  # a cache longer than the text (never for full caches)
            mask, name = self.mask_rows[tick][layer], f"{self.layer_names[layer]} @ tick {tick}"
            if isinstance(mask, tuple) and mask and mask[0] == "chain":  # hand-written: replay its own steps
                _, steps, sinks, dtype = mask
                at = ChainTrace(self.q_rows[tick][layer], k, v, None, False, self.scales[layer], tokens=labels,
                                query_tokens=[self.tokens[tk.query_position]], name=name,
                                batch_names=batch_names(self.q_rows[tick][layer].dim() - 2), steps=steps,
                                sinks=sinks, softmax_dtype=dtype)
            else:
                at = trace_attention(self.q_rows[tick][layer], k, v, attn_mask=mask, scale=self.scales[layer],
                                     tokens=labels, query_tokens=[self.tokens[tk.query_position]], name=name)
            self.derived[key] = at
        return self.derived[key]

    def head_weights(self, tick: int, layer: int, batch: int = 0) -> torch.Tensor:
        """[H, S] weights of every head of ``layer`` for the new query of ``tick``.

        Example: ``tr.head_weights(0, 1).sum(-1)  # all ones``
        """
        w = self.attention(tick, layer).weights  # [*batch, 1, S]: one query row per head, small
        if w.dim() == 2:  # no head dimension: one "head"
            return w  # [1, S]
        if w.dim() >= 4:
            w = w.reshape(-1, *w.shape[-3:])  # [B', H, 1, S]
            check_index("batch", batch, w.shape[0], "pass batch=0")
            w = w[batch]  # [H, 1, S]
        return w[:, 0, :]  # [H, S]

    def weights(self, tick: int, layer: int, head: int = 0, batch: int = 0) -> torch.Tensor:
        """[S] weights of one head: how much the new query of ``tick`` takes from each position.

        Example: ``tr.weights(3, layer=0, head=1).argmax()  # the position it attends most``
        """
        hw = self.head_weights(tick, layer, batch)
        check_index("head", head, hw.shape[0], "pick an existing head")
        return hw[head]
