"""TinyGPT: a nanoGPT-style decoder small enough to ship inside the package, with a KV cache.

Architecture ("Attention Is All You Need", decoder only, pre-LN as in GPT-2 / karpathy/nanoGPT):
token + learned position embeddings -> n_layer x [x + attn(ln_1(x)); x + mlp(ln_2(x))] -> ln_f ->
lm_head (tied to the token embedding). Attention always goes through
``torch.nn.functional.scaled_dot_product_attention`` with q, k, v shaped [B, n_head, T, head_dim], so
a TorchFunctionMode (tr_widgets' capture) sees every call with the real tensors.

The forward follows the Hugging Face calling convention that decoding code relies on:
``model(input_ids, past_key_values=None, use_cache=False)`` returns ``.logits`` [B, T, V] and, when
``use_cache``, ``.past_key_values``: one ``(k, v)`` pair per layer, each [B, n_head, T_total, head_dim].
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..engine.errors import fail


@dataclass
class TinyGPTConfig:
    """Shape of a TinyGPT. Example: ``TinyGPTConfig(vocab_size=149, n_layer=2, n_head=4, n_embd=64)``"""

    vocab_size: int
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 64
    block_size: int = 64  # longest sequence (prompt + generated tokens) the position table covers


@dataclass(eq=False)
class TinyGPTOutput:
    """What ``TinyGPT.forward`` returns (named like Hugging Face's CausalLMOutputWithPast).

    Example: ``out = model(torch.tensor([[1, 2]]), use_cache=True); len(out.past_key_values) == model.config.n_layer``
    """

    logits: torch.Tensor  # [B, T, vocab_size]
    past_key_values: tuple[tuple[torch.Tensor, torch.Tensor], ...] | None = None


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention through SDPA, with a KV cache (``layer_past``: the cached (k, v)).

    Example: ``y, (k, v) = model.h[0].attn(torch.zeros(1, 3, model.config.n_embd)); k.shape[2] == 3``
    """

    def __init__(self, cfg: TinyGPTConfig):
        super().__init__()
        if cfg.n_embd % cfg.n_head:
            fail("n_embd", f"a multiple of n_head={cfg.n_head}", str(cfg.n_embd), "change n_embd or n_head")
        self.n_head, self.n_embd = cfg.n_head, cfg.n_embd
        self.c_attn = nn.Linear(cfg.n_embd, 3 * cfg.n_embd)
        self.c_proj = nn.Linear(cfg.n_embd, cfg.n_embd)

    def forward(self, x, layer_past=None):
        B, T, C = x.shape
        hs = C // self.n_head
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)  # 3 x (B, T, C)
        q = q.view(B, T, self.n_head, hs).transpose(1, 2)  # (B, nh, T, hs)
        k = k.view(B, T, self.n_head, hs).transpose(1, 2)  # (B, nh, T, hs)
        v = v.view(B, T, self.n_head, hs).transpose(1, 2)  # (B, nh, T, hs)
        P = 0
        if layer_past is not None:
            P = layer_past[0].size(2)
            k = torch.cat([layer_past[0], k], dim=2)  # (B, nh, P+T, hs)
            v = torch.cat([layer_past[1], v], dim=2)  # (B, nh, P+T, hs)
        if P == 0:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, nh, T, hs)
        elif T == 1:
            # the one new query sees every cached key and itself: no mask at all
            y = F.scaled_dot_product_attention(q, k, v, is_causal=False)  # (B, nh, 1, hs)
        else:
            # is_causal aligns the triangle top-left (query i sees keys <= i), wrong once keys are
            # offset by P cached positions; query i (absolute P+i) may see keys 0..P+i.
            allowed = torch.ones(T, P + T, dtype=torch.bool, device=x.device).tril(diagonal=P)  # (T, P+T)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)  # (B, nh, T, hs)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # (B, T, C)
        return self.c_proj(y), (k, v)


class Block(nn.Module):
    """One pre-LN decoder block: ``x + attn(ln_1(x))``, then ``x + mlp(ln_2(x))``; returns (x, its (k, v)).

    Example: ``y, present = model.h[0](torch.zeros(1, 3, model.config.n_embd)); y.shape == (1, 3, model.config.n_embd)``
    """

    def __init__(self, cfg: TinyGPTConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg.n_embd)
        self.attn = CausalSelfAttention(cfg)
        self.ln_2 = nn.LayerNorm(cfg.n_embd)
        self.mlp = nn.Sequential(nn.Linear(cfg.n_embd, 4 * cfg.n_embd), nn.GELU(),
                                 nn.Linear(4 * cfg.n_embd, cfg.n_embd))

    def forward(self, x, layer_past=None):
        a, present = self.attn(self.ln_1(x), layer_past)
        x = x + a
        return x + self.mlp(self.ln_2(x)), present


class TinyGPT(nn.Module):
    """A small GPT decoder. Use :func:`load_tiny` for the trained one shipped with tr_widgets.

    Example:
        >>> model = TinyGPT(TinyGPTConfig(vocab_size=10, n_layer=1, n_head=2, n_embd=8, block_size=16))
        >>> out = model(torch.tensor([[1, 2, 3]]), use_cache=True)
        >>> out.logits.shape, out.past_key_values[0][0].shape
        (torch.Size([1, 3, 10]), torch.Size([1, 2, 3, 4]))
    """

    def __init__(self, config: TinyGPTConfig):
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = nn.Embedding(config.block_size, config.n_embd)
        self.h = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight  # weight tying (GPT-2); saved once as wte.weight
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(m):
        # GPT-2's initialisation: N(0, 0.02) for linear and embedding weights, zero biases
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def forward(self, input_ids, past_key_values=None, use_cache=False) -> TinyGPTOutput:
        """Logits for every position; with ``use_cache`` also the grown cache.

        Example: ``out = model(ids, use_cache=True); nxt = out.logits[:, -1].argmax(-1, keepdim=True)``
        then ``out = model(nxt, past_key_values=out.past_key_values, use_cache=True)`` (one new token).
        """
        if input_ids.dim() != 2:
            fail("input_ids", "a [B, T] tensor of token ids", f"shape {tuple(input_ids.shape)}",
                  "add a batch dimension: input_ids[None]")
        B, T = input_ids.shape
        if past_key_values is not None and len(past_key_values) != self.config.n_layer:
            fail("past_key_values", f"{self.config.n_layer} (k, v) pairs", f"{len(past_key_values)}",
                  "pass the .past_key_values of this model's previous call")
        P = past_key_values[0][0].size(2) if past_key_values else 0
        if P + T > self.config.block_size:
            fail("input_ids", f"cache length + new tokens <= block_size={self.config.block_size}",
                  f"{P} + {T} = {P + T}", "keep only the last block_size tokens and drop the cache")
        pos = torch.arange(P, P + T, device=input_ids.device)  # (T,) positions continue after the cache
        x = self.wte(input_ids) + self.wpe(pos)  # (B, T, C)
        presents = []
        for i, block in enumerate(self.h):
            x, present = block(x, past_key_values[i] if past_key_values else None)
            presents.append(present)
        logits = self.lm_head(self.ln_f(x))  # (B, T, V)
        return TinyGPTOutput(logits, tuple(presents) if use_cache else None)

    def num_params(self) -> int:
        """Parameter count (the tied head counted once). Example: ``load_tiny()[0].num_params()``"""
        return sum(p.numel() for p in self.parameters())
