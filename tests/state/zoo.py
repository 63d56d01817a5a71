"""Tiny random models of every transformers family whose mixer the state tracer records by structure: one
config each (2-3 layers, hidden 32, built on CPU, no download), and where its mixers are.

``ZOO[name] = (spec name, model builder, the attribute path of a layer's mixer)``: a parametrized test walks it.
"""
from __future__ import annotations

import torch

V = 64
_DELTA = dict(linear_num_value_heads=4, linear_num_key_heads=2, linear_key_head_dim=8, linear_value_head_dim=8,
              linear_conv_kernel_dim=4)
_QWEN = dict(vocab_size=V, hidden_size=32, intermediate_size=64, num_attention_heads=2, num_key_value_heads=1,
             head_dim=16, num_hidden_layers=2, layer_types=["linear_attention", "full_attention"], **_DELTA)
_MOE = dict(moe_intermediate_size=32, num_experts=2, num_experts_per_tok=1, shared_expert_intermediate_size=32)
_SSD = dict(vocab_size=V, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
            num_key_value_heads=1, mamba_n_heads=4, mamba_d_head=16, mamba_n_groups=2, mamba_d_state=8,
            mamba_d_conv=4, mamba_expand=2, mamba_chunk_size=4)


def _text(cfg_cls, model_cls, **kw):
    return lambda tf: getattr(tf, model_cls)(getattr(tf, cfg_cls)(**kw))


def _qwen(name, moe=False, **extra):
    cfg = {**_QWEN, **(_MOE if moe else {}), **extra}
    return lambda tf: getattr(tf, f"{name}ForCausalLM")(getattr(tf, f"{name}TextConfig", None)(**cfg)
                                                       if hasattr(tf, f"{name}TextConfig") else getattr(tf, f"{name}Config")(**cfg))


ZOO = {
    "falcon_mamba": ("mamba", _text("FalconMambaConfig", "FalconMambaForCausalLM", vocab_size=V, hidden_size=32,
                                    state_size=8, num_hidden_layers=2, expand=2, time_step_rank=4)),
    "jamba": ("mamba", _text("JambaConfig", "JambaForCausalLM", vocab_size=V, hidden_size=32, intermediate_size=64,
                             num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1, num_experts=2,
                             num_experts_per_tok=1, expert_layer_period=2, expert_layer_offset=1, attn_layer_period=2,
                             attn_layer_offset=1, mamba_d_state=8, mamba_d_conv=4, mamba_expand=2, mamba_dt_rank=4)),
    "zamba": ("mamba_heads", _text("ZambaConfig", "ZambaForCausalLM", vocab_size=V, hidden_size=32,
                                   intermediate_size=64, num_hidden_layers=3, num_attention_heads=2,
                                   num_key_value_heads=2, attn_hidden_size=64, mamba_d_state=8, mamba_d_conv=4,
                                   mamba_expand=2, mamba_dt_rank=4, n_mamba_heads=2,
                                   layer_types=["mamba", "hybrid", "hybrid"])),
    "bamba": ("mamba2", _text("BambaConfig", "BambaForCausalLM", attn_layer_indices=[1], **_SSD)),
    "granitemoehybrid": ("mamba2", _text("GraniteMoeHybridConfig", "GraniteMoeHybridForCausalLM",
                                         layer_types=["mamba", "attention"], num_local_experts=2,
                                         num_experts_per_tok=1, shared_intermediate_size=32, **_SSD)),
    "falcon_h1": ("mamba2", _text("FalconH1Config", "FalconH1ForCausalLM", head_dim=16, mamba_d_ssm=64, **_SSD)),
    "nemotron_h": ("mamba2", _text("NemotronHConfig", "NemotronHForCausalLM", vocab_size=V, hidden_size=32,
                                   intermediate_size=64, num_attention_heads=2, num_key_value_heads=1, head_dim=16,
                                   layers_block_type=["mamba", "attention"], mamba_num_heads=4, mamba_head_dim=16,
                                   n_groups=2, ssm_state_size=8, conv_kernel=4, expand=2, chunk_size=4)),
    "zamba2": ("mamba2", _text("Zamba2Config", "Zamba2ForCausalLM", vocab_size=V, hidden_size=32, num_hidden_layers=2,
                               num_attention_heads=2, num_key_value_heads=2, mamba_d_state=8, mamba_headdim=8,
                               n_mamba_heads=8, mamba_ngroups=2, intermediate_size=64,
                               layers_block_type=["mamba", "hybrid"], attention_head_dim=16, num_mem_blocks=1,
                               use_mem_rope=False)),
    "qwen3_5": ("gated_deltanet_split", _qwen("Qwen3_5")),
    "qwen3_5_moe": ("gated_deltanet_split", _qwen("Qwen3_5Moe", moe=True)),
    "qwen4_exp": ("gated_deltanet_split", _qwen("Qwen4Exp", moe=True, indexer_n_heads=2, indexer_kv_heads=1,
                                              indexer_head_dim=16, indexer_budget=4, indexer_compress_ratio=2)),
    "lara_mini": ("gated_deltanet_split", _qwen("LaraMini")),
    "olmo_hybrid": ("gated_deltanet_proj", _text("OlmoHybridConfig", "OlmoHybridForCausalLM", vocab_size=V,
                                                 hidden_size=32, intermediate_size=64, num_hidden_layers=2, pad_token_id=0,
                                                 num_attention_heads=2, num_key_value_heads=1,
                                                 layer_types=["linear_attention", "full_attention"], **_DELTA)),
}


def build_zoo(name: str, dtype=torch.float32, seed: int = 0):
    """The tiny model of a ZOO family, seeded, eval mode."""
    import transformers as tf

    torch.manual_seed(seed)
    return ZOO[name][1](tf).eval().to(dtype)
