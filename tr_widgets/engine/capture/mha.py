"""The attention inside nn.MultiheadAttention, per head, exactly as SDPA would take it (for ``capture``).

nn.MultiheadAttention's fast path (``torch._native_multi_head_attention``) and nn.TransformerEncoderLayer's
(``torch._transformer_encoder_layer_fwd``) are fused kernels that never expose q, k and v. Both compute
what ``F.multi_head_attention_forward`` computes ("Attention Is All You Need", §3.2.2):

    q = x_q W_qᵀ + b_q,  k = x_k W_kᵀ + b_k,  v = x_v W_vᵀ + b_v       (then bias_k/bias_v rows appended,
    split into heads, an all-zero key/value appended for add_zero_attn),   scale = 1/√head_dim,

with two masks: ``attn_mask`` (bool True = *not* allowed, or float added; ``[L, S]`` or ``[B*heads, L, S]``)
and ``key_padding_mask`` (bool True = padding, or float added; ``[B, S]``). :func:`project` redoes the
in-projection from a snapshot of the weights and merges both masks into one mask with SDPA's meaning
(bool True = the key takes part; float = added), so the result feeds an ``AttentionTrace`` directly.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(eq=False)
class MHAParams:
    """A snapshot of what an nn.MultiheadAttention projects with (so later training cannot change a trace).

    Example::

        p = snapshot(nn.MultiheadAttention(8, 2))
        (p.num_heads, p.w_q.shape, p.norm) == (2, (8, 8), None)
    """

    num_heads: int
    batch_first: bool
    w_q: torch.Tensor  # [E, E]
    w_k: torch.Tensor  # [E, kdim]
    w_v: torch.Tensor  # [E, vdim]
    b_q: torch.Tensor | None  # [E]
    b_k: torch.Tensor | None
    b_v: torch.Tensor | None
    bias_k: torch.Tensor | None  # [1, 1, E]
    bias_v: torch.Tensor | None
    add_zero_attn: bool
    norm: tuple | None = None  # (normalized_shape, weight, bias, eps): TransformerEncoderLayer's norm1 (norm_first)

    def tensors(self) -> list[torch.Tensor]:
        ts = [self.w_q, self.w_k, self.w_v, self.b_q, self.b_k, self.b_v, self.bias_k, self.bias_v]
        if self.norm is not None:
            ts += [self.norm[1], self.norm[2]]
        return [t for t in ts if t is not None]


def snapshot(mha: nn.MultiheadAttention, norm: nn.LayerNorm | None = None) -> MHAParams:
    """Copy the projection weights of ``mha`` (and of a pre-norm ``norm``, if given).

    Example::

        mha = nn.MultiheadAttention(8, 2)
        p = snapshot(mha)
        torch.equal(p.w_k, mha.in_proj_weight[8:16]) == True  # [q; k; v] stacked in torch's in_proj_weight
        with torch.no_grad():
            mha.in_proj_weight.zero_()
        bool(p.w_k.any()) == True  # the snapshot kept the values it had
    """
    clone = lambda t: None if t is None else t.detach().clone()
    with torch.no_grad():
        if mha._qkv_same_embed_dim:
            w_q, w_k, w_v = mha.in_proj_weight.detach().chunk(3)  # 3 x [E, E]
        else:
            w_q, w_k, w_v = mha.q_proj_weight, mha.k_proj_weight, mha.v_proj_weight
        b_q = b_k = b_v = None
        if mha.in_proj_bias is not None:
            b_q, b_k, b_v = mha.in_proj_bias.detach().chunk(3)  # 3 x [E]
        nrm = None if norm is None else (tuple(norm.normalized_shape), clone(norm.weight), clone(norm.bias), norm.eps)
        return MHAParams(mha.num_heads, mha.batch_first, clone(w_q), clone(w_k), clone(w_v), clone(b_q),
                         clone(b_k), clone(b_v), clone(mha.bias_k), clone(mha.bias_v), mha.add_zero_attn, nrm)


def merge_masks(attn_mask, key_padding_mask, B: int, H: int, L: int, S: int, dtype) -> torch.Tensor | None:
    """MHA's two masks as one SDPA mask, broadcastable to ``[B, H, L, S]``: bool True = the key takes part
    when both are bool (or absent), else float (-inf where a bool mask blocked, float masks added).

    Example: ``merge_masks(torch.ones(3, 3).bool().triu(1), None, 1, 2, 3, 3, torch.float32)``  # tril
    """
    parts = []
    if attn_mask is not None:
        parts.append(attn_mask if attn_mask.dim() == 2 else attn_mask.reshape(B, H, L, S))  # [L, S] | [B, H, L, S]
    if key_padding_mask is not None:
        parts.append(key_padding_mask.reshape(B, 1, 1, S))  # [B, 1, 1, S]
    if not parts:
        return None
    if all(m.dtype == torch.bool for m in parts):
        allowed = ~parts[0]
        for m in parts[1:]:
            allowed = allowed & ~m  # broadcast to [B, H | 1, L, S]
        return allowed
    total = None
    for m in parts:
        add = (torch.zeros(m.shape, dtype=dtype, device=m.device).masked_fill_(m, float("-inf"))
               if m.dtype == torch.bool else m.to(dtype))
        total = add if total is None else total + add
    return total


def _pad_key(mask):
    return None if mask is None else F.pad(mask, (0, 1))  # one more key column, allowed / +0


def project(p: MHAParams, query, key, value, key_padding_mask=None, attn_mask=None):
    """q, k, v per head and the merged mask, as ``F.multi_head_attention_forward`` would use them.

    Returns ``q [B, H, L, hd], k [B, H, S, hd], v [B, H, S, hd], mask`` (``mask``: see :func:`merge_masks`);
    an unbatched call (``query [L, E]``) gives ``B = 1``.

    Example::

        mha, x8 = nn.MultiheadAttention(8, 2).eval(), torch.randn(5, 1, 8)  # [L, B, E]
        q, k, v, mask = project(snapshot(mha), x8, x8, x8)  # q: [B, H, L, hd] = [1, 2, 5, 4]
        heads = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # [1, 2, 5, 4]
        y = mha.out_proj(heads.permute(2, 0, 1, 3).reshape(5, 1, 8))  # [L, B, H, hd] -> [L, B, E]
        assert torch.allclose(y, mha(x8, x8, x8)[0], atol=1e-6)  # torch's own module agrees
    """
    with torch.no_grad():
        if query.dim() == 2:  # unbatched: [L, E] -> [L, 1, E]
            query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
            key_padding_mask = None if key_padding_mask is None else key_padding_mask.unsqueeze(0)  # [1, S]
        elif p.batch_first:  # [B, L, E] -> [L, B, E]
            query, key, value = query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1)
        if p.norm is not None:  # TransformerEncoderLayer(norm_first=True): self-attention on norm1(src)
            query = key = value = F.layer_norm(query, p.norm[0], p.norm[1], p.norm[2], p.norm[3])
        L, B, E = query.shape
        H = p.num_heads
        hd = E // H
        q = F.linear(query, p.w_q, p.b_q)  # [L, B, E]
        k = F.linear(key, p.w_k, p.b_k)  # [S, B, E]
        v = F.linear(value, p.w_v, p.b_v)  # [S, B, E]
        if p.bias_k is not None:
            k = torch.cat([k, p.bias_k.expand(1, B, E)])  # [S+1, B, E]
            v = torch.cat([v, p.bias_v.expand(1, B, E)])  # [S+1, B, E]
            attn_mask, key_padding_mask = _pad_key(attn_mask), _pad_key(key_padding_mask)
        heads = lambda t: t.reshape(t.shape[0], B, H, hd).permute(1, 2, 0, 3)  # [S, B, E] -> [B, H, S, hd]
        q, k, v = heads(q), heads(k), heads(v)
        if p.add_zero_attn:
            k = torch.cat([k, k.new_zeros(B, H, 1, hd)], dim=2)  # [B, H, S+1, hd]
            v = torch.cat([v, v.new_zeros(B, H, 1, hd)], dim=2)  # [B, H, S+1, hd]
            attn_mask, key_padding_mask = _pad_key(attn_mask), _pad_key(key_padding_mask)
        mask = merge_masks(attn_mask, key_padding_mask, B, H, L, k.shape[2], q.dtype)
    return q, k, v, mask
