"""Never silent, on every causal LM transformers ships: each sequence mixer a model runs under ``capture`` is
recorded (its own name, or a module recorded around or inside it) or named in rec.skipped / the CaptureWarning.

The walk builds each class of transformers' causal-LM table from its own config class, shrunk (width 32, two
heads, one layer per distinct layer type, a vocabulary of 64); a class whose config does not build small, or
whose tiny model does not run on CPU, is left out and counted. Every mixer family the state tests build (their
own tiny configs: Mamba, Mamba-2, RWKV, Gated DeltaNet and the families found by structure and added since) is
walked too, so each known family is checked whatever the generic shrinking manages. What counts as a sequence mixer is decided here,
independently of capture: a module whose class name says it mixes along time (Mamba, Mixer, DeltaNet,
LinearAttention, Lightning, Rwkv, RG-LRU, RecurrentBlock, ShortConv, mLSTM, SSM, Retention) and that ran.
A release that adds a mixer we do not know makes this test fail unless capture names it.
"""
import re
import warnings

import pytest
import torch

from tr_widgets import capture

from ..state import FAMILIES as BASE_FAMILIES, build as build_base
from ..state.test_new_families import FAMILIES as NEW_FAMILIES, build as build_new
from ..state.zoo import ZOO, build_zoo

transformers = pytest.importorskip("transformers")
auto = pytest.importorskip("transformers.models.auto.modeling_auto")

MIXER = re.compile(r"Mamba|Mixer|DeltaNet|DeltaAttention|LinearAttention|Lightning|Rwkv|Rglru|RgLru|RGLRU|"
                   r"RecurrentBlock|ShortConv|Mlstm|mLSTM|Ssm|SSM|Retention|Hyena|GatedConv")
# RWKV's feed-forward ("channel mixing") shifts one previous token in: a channel mix, not a sequence mixer (its
# one-vector shift state sits in the cache beside the recorded time mixing; decode counts its bytes).
NOT_MIXER = re.compile(r"(Norm|RMSNorm|MLP|Mlp|Embedding|Embeddings|Experts|Router|Model|ForCausalLM|Cache|Gate|"
                       r"FeedForward)$")
SMALL = dict(hidden_size=32, intermediate_size=64, num_attention_heads=2, num_key_value_heads=2, head_dim=16,
             vocab_size=64, n_embd=32, n_head=2, d_model=32, max_position_embeddings=64, n_positions=64,
             moe_intermediate_size=32, num_experts=2, num_local_experts=2, num_experts_per_tok=1, n_routed_experts=2,
             shared_expert_intermediate_size=32, state_size=8, expand=2, time_step_rank=4, conv_kernel=4,
             linear_num_value_heads=2, linear_num_key_heads=2, linear_key_head_dim=8, linear_value_head_dim=8,
             attention_hidden_size=32, pad_token_id=0, bos_token_id=1, eos_token_id=2)
MAX_PARAMETERS = 3_000_000
MIN_BUILT = 110  # transformers 5.25: 148 (122 of its ~300 causal LMs, 26 mixer families); far fewer: the walk broke


def _small_config(config_class):
    """The config class shrunk: the SMALL values it has, passed to its constructor (so values derived there
    follow), with enough layers for one of each of its default layer types (a hybrid keeps its mixers)."""
    default = config_class()
    kw = {k: v for k, v in SMALL.items() if hasattr(default, k)}
    kinds = list(getattr(default, "layer_types", None) or getattr(default, "layers_block_type", None) or [])
    first = {k: kinds.index(k) for k in dict.fromkeys(kinds)}
    layers = 1 + max(first.values(), default=1)
    for key in ("num_hidden_layers", "n_layer", "num_layers"):
        if hasattr(default, key):
            kw[key] = min(layers, 8)
    tries = [dict(kw, layer_types=kinds[:kw.get("num_hidden_layers", len(kinds))])] if kinds else []
    for attempt in tries + [kw]:
        try:
            return config_class(**attempt)
        except Exception:  # noqa: BLE001: a value this config refuses; the next try passes fewer
            continue
    return None


def _build(model_cls):
    """A tiny model of ``model_cls`` in eval mode, or None when its config does not build small on CPU."""
    try:
        cfg = _small_config(model_cls.config_class)
        if cfg is None:
            return None
        with torch.device("meta"):
            n = sum(p.numel() for p in model_cls(cfg).parameters())
        if n > MAX_PARAMETERS:
            return None
        torch.manual_seed(0)
        return model_cls(cfg).eval()
    except Exception:  # noqa: BLE001: a config that does not build small is left out (counted)
        return None


def _classes():
    for name in sorted(set(auto.MODEL_FOR_CAUSAL_LM_MAPPING_NAMES.values())):
        cls = getattr(transformers, name, None) if isinstance(name, str) else None
        if cls is not None:
            yield name, cls


def _mixers_that_ran(model, ids):
    ran, hooks = set(), []
    names = {m: n for n, m in model.named_modules()}
    for n, m in model.named_modules():
        cls = type(m).__name__
        if MIXER.search(cls) and not NOT_MIXER.search(cls):
            hooks.append(m.register_forward_hook(lambda mod, a, o, n=n: ran.add(n)))
    try:
        with torch.no_grad():
            model(ids)
    finally:
        for h in hooks:
            h.remove()
    return ran, names


def _covered(name: str, recorded: list[str]) -> bool:
    return any(r == name or r.startswith(name + ".") or name.startswith(r + ".") for r in recorded)


def _models():
    """(name, tiny model) of every causal LM that builds small, then every known mixer family's tiny model;
    and the names left out."""
    left_out = []
    for name, cls in _classes():
        model = _build(cls)
        if model is None:
            left_out.append(name)
        else:
            yield name, model
    for family in BASE_FAMILIES:
        yield f"state.{family}", build_base(family)
    for family in ZOO:
        yield f"state.zoo.{family}", build_zoo(family)
    for family in NEW_FAMILIES:
        yield f"state.new.{family}", build_new(family)
    _models.left_out = left_out


def _silent_mixers(name, model, ids) -> tuple[int, list[str]]:
    """How many mixers ran, and those neither recorded nor named (None when the model does not run on CPU)."""
    try:
        ran, _ = _mixers_that_ran(model, ids)
    except Exception:  # noqa: BLE001: a tiny model that does not run on CPU is left out
        return None
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        with torch.no_grad(), capture(model) as rec:
            model(ids)
    text = " ".join(str(w.message) for w in said)
    named = rec.names + [n for n, _ in rec.skipped]
    return len(ran), [f"{name}: {m}" for m in sorted(ran) if not _covered(m, named) and repr(m) not in text]


def test_every_sequence_mixer_a_causal_lm_runs_is_recorded_or_named():
    built, failed, silent, mixers_seen = 0, [], [], 0
    ids = torch.randint(3, 64, (2, 6), generator=torch.Generator().manual_seed(0))
    verbosity = transformers.logging.get_verbosity()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # transformers' own notices; capture's are read below
        transformers.logging.set_verbosity(transformers.logging.CRITICAL)  # configs refusing a small value
        try:
            for name, model in _models():
                seen = _silent_mixers(name, model, ids)
                if seen is None:
                    failed.append(name)
                    continue
                built += 1
                mixers_seen += seen[0]
                silent += seen[1]
        finally:
            transformers.logging.set_verbosity(verbosity)
    assert not [n for n in failed if n.startswith("state.")], failed  # the known families always run
    assert built >= MIN_BUILT, f"only {built} causal LMs built small; left out: {_models.left_out + failed}"
    assert mixers_seen >= len(BASE_FAMILIES) + len(ZOO) + len(NEW_FAMILIES)
    assert not silent, f"sequence mixers that ran with nothing recorded and nothing said: {silent}"
