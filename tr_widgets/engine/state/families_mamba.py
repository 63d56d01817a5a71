"""Specs of the selective state-space mixers: Mamba (``MambaMixer``) and Mamba-2 (``Mamba2Mixer``), and the
variants that compute the same scan under other names (found by structure, checked against their output):
Mamba: FalconMamba (weightless RMS norms on Δ, B, C before dt_proj) and Jamba (the same norms with weights);
Mamba-2 / SSD: Bamba, GraniteMoeHybrid, NemotronH, Zamba2 (the same forward) and FalconH1 (the input times
``ssm_in_multiplier``, the projection times ``mup_vector``, a plain SiLU gate when ``mamba_rms_norm`` is off).

``prepare`` is the module's torch path up to its scan (in_proj, padding mask, depthwise causal conv,
x_proj/dt_proj, softplus), read from the module's own weights; ``finish`` is what follows it.
Mamba: Gu & Dao, "Mamba: Linear-Time Sequence Modeling with Selective State Spaces" (2023), Alg. 2.
Mamba-2: Dao & Gu, "Transformers are SSMs" (2024), the SSD layer with a gated RMSNorm before out_proj.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from tr_widgets.engine.errors import check_budget

from . import scan
from .families import ConvKind, register
from .mixer_ops import activation, causal_conv, gated_rmsnorm, hidden_and_mask, mask_tokens


_NORMS = ("dt_layernorm", "b_layernorm", "c_layernorm")


def _norm_data(norm):
    """A norm submodule as plain data (weight, eps), so a trace holds no module and saves to a file. FalconMamba's
    norms are weightless: their ``weight`` is a dummy buffer (not a parameter) that their forward never reads."""
    if norm is None:
        return None
    eps = norm.variance_epsilon if hasattr(norm, "variance_epsilon") else norm.eps  # transformers 5.23 names it eps
    return (norm.weight if isinstance(norm.weight, torch.nn.Parameter) else None), eps


def _rms(v, weight, eps):
    """RMSNorm as the models compute it: in float32, cast back, then times the weight (FalconMamba's is ones)."""
    h = v.float()
    h = (h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + eps)).to(v.dtype)
    return h if weight is None else weight * h


def _gated_norm_data(module):
    """Mamba-2's gated norm as plain data: (weight, eps, group size, gate first), None when FalconH1 has none."""
    norm = module.norm
    if not getattr(module, "mamba_rms_norm", True):
        return None
    group = getattr(norm, "group_size", None) or norm.weight.shape[0] // getattr(norm, "n_groups", 1)
    return norm.weight, norm.variance_epsilon, group, not getattr(norm, "norm_before_gate", False)


class MambaKind(ConvKind):
    """Mamba: state ``h`` [B, d_inner, d_state] per layer, plus a conv buffer [B, d_inner, conv_kernel].

    The model's multi-token torch path starts its scan from zero even when its cache holds a state
    (``mamba_selective_scan`` has no initial state); only single-token calls continue the state.
    The trace does the same, so that it equals the module.

    Example::

        from tr_widgets.engine.state import trace_state
        t = trace_state("mamba", x=torch.randn(1, 6, 4), delta=torch.rand(1, 6, 4), A=-torch.ones(4, 2),
                        B=torch.randn(1, 6, 2), C=torch.randn(1, 6, 2))       # or trace_mixer_call on a MambaMixer
        assert isinstance(t.spec, MambaKind)
        (t.state(3).shape, t.names[:3]) == ((1, 4, 2), ("x", "delta", "A_bar"))     # [B, d_inner, d_state]
    """

    name, title = "mamba", "Mamba selective scan"
    classes = ("transformers.models.mamba.modeling_mamba.MambaMixer",)
    pattern = r"MambaMixer$"  # MambaMixer, FalconMambaMixer, JambaMambaMixer (ZambaMambaMixer has no x_proj)
    needs = ("in_proj", "conv1d", "x_proj", "dt_proj", "A_log", "D", "out_proj")
    inputs, optional = ("x", "delta", "B", "C", "gate"), ("gate", "D")
    state_names = ("ssm",)
    names = ("x", "delta", "A_bar", "B", "Bx", "C", "D", "gate", "y")
    shapes = {"x": "BTD", "delta": "BTD", "B": "BTN", "C": "BTN", "gate": "BTD", "A": "DN", "D": "D"}

    def read(self, module, args, kwargs):
        hidden, mask = hidden_and_mask(args, kwargs)
        conv = module.conv1d
        consts = {"in_w": module.in_proj.weight, "in_b": module.in_proj.bias, "conv_w": conv.weight.squeeze(1),
                  "conv_b": conv.bias, "act": activation(module.activation, module.act), "x_w": module.x_proj.weight,
                  "dt_w": module.dt_proj.weight, "dt_b": module.dt_proj.bias, "A": -torch.exp(module.A_log.float()),
                  "D": module.D.float(), "out_w": module.out_proj.weight, "out_b": module.out_proj.bias,
                  "rank": module.time_step_rank, "conv_width": module.conv_kernel_size, "dtype": hidden.dtype,
                  # FalconMamba / Jamba normalise Δ (before dt_proj), B and C: the module's own norms
                  "norms": tuple(_norm_data(getattr(module, n, None)) for n in _NORMS)}
        return hidden, mask, consts

    def recurrent_initial(self, initial, T):
        # the model's multi-token path restarts its scan from zero; only one-token calls continue the state
        return super().recurrent_initial(initial, T) if T == 1 else None

    def conv_input(self, hidden, c):
        return F.linear(hidden, c["in_w"], c["in_b"]).transpose(1, 2).chunk(2, dim=1)[0]  # [B, d_inner, T]

    def prepare(self, hidden, mask, c, initial):
        proj = F.linear(mask_tokens(hidden, mask), c["in_w"], c["in_b"]).transpose(1, 2)  # [B, 2 d_inner, T]
        xp, gate = proj.chunk(2, dim=1)  # [B, d_inner, T] each
        x = causal_conv(xp, c["conv_w"], c["conv_b"], c["act"], None if initial is None else initial.get("conv"))
        x = mask_tokens(x.transpose(1, 2), mask)  # [B, T, d_inner]
        N = c["A"].shape[-1]
        dt_low, B, C = torch.split(F.linear(x, c["x_w"]), [c["rank"], N, N], dim=-1)  # [B, T, R], [B, T, N] × 2
        dt_low, B, C = (v if norm is None else _rms(v, *norm) for norm, v in zip(c.get("norms", ()) or (None,) * 3,
                                                                                 (dt_low, B, C)))
        dt = c["dt_w"] @ dt_low.transpose(1, 2)  # [B, d_inner, T]
        if c["dt_b"] is not None:
            dt = dt + c["dt_b"].float().to(dt.dtype)[..., None]
        return {"x": x, "delta": F.softplus(dt).transpose(1, 2), "B": B, "C": C, "gate": gate.transpose(1, 2)}

    def finish(self, y, inputs, c):
        return F.linear(y.to(c["dtype"]), c["out_w"], c["out_b"])

    def zero(self, inputs, c):
        x, dtype = inputs["x"], torch.promote_types(torch.float32, inputs["delta"].dtype)  # the model's state dtype
        return (torch.zeros(x.shape[0], *x.shape[2:], c["A"].shape[-1], dtype=dtype, device=x.device),)

    def run(self, state, inputs, c, keep):
        A_bar, Bx = scan.selective_coeffs(inputs["x"], inputs["delta"], c["A"], inputs["B"])
        h, hs = scan.linear_scan(None if state is None else state[0], A_bar, Bx, keep, reuse_b=True)
        return (h,), (None if hs is None else (hs,))

    def readout(self, start, states, inputs, c):
        return scan.selective_readout(states[0], inputs["x"], inputs["C"], c.get("D"), inputs.get("gate"))

    def step(self, state, inputs_t, c):
        i = {k: v[:, 0] for k, v in inputs_t.items()}
        h, y, parts = scan.selective_step(state[0], i["x"], i["delta"], c["A"], i["B"], i["C"], c.get("D"),
                                          i.get("gate"))
        return (h,), y, parts

    def attention_row(self, trace, i, channel):
        """Per channel: w[b, d, j] = Σ_n C_i,n exp(Σ_{j<k≤i} Δ_k,d A_d,n) Δ_j,d B_j,n, so Σ_j w x_j = (C h_i)_d
        from the tokens of this call (the initial state's share is left out)."""
        x, delta, B = (trace.inputs[k][:, : i + 1] for k in ("x", "delta", "B"))
        A = trace.consts["A"]
        if channel is not None:
            x, delta, A = x[:, :, channel:channel + 1], delta[:, :, channel:channel + 1], A[channel:channel + 1]
        check_budget("attention_row", (*delta.shape, A.shape[-1]), torch.float32, "attention_row(i, channel=d)")
        log_a = delta[..., None] * A  # [B, i+1, D, N]
        suffix = log_a.flip(1).cumsum(1).flip(1) - log_a  # [B, i+1, D, N]: Σ_{j<k≤i}
        C_i = trace.inputs["C"][:, i].float()  # [B, N]
        w = torch.einsum("bjdn,bjn,bn->bdj", torch.exp(suffix) * delta[..., None], B.float(), C_i)  # [B, D, i+1]
        return w[:, 0] if channel is not None else w


class Mamba2Kind(ConvKind):
    """Mamba-2 (SSD): state ``h`` [B, heads, head_dim, d_state] per layer, plus a conv buffer
    [B, d_inner + 2·groups·d_state, conv_kernel]. One scalar decay ``dA = exp(Δ A_h)`` per head and step.

    ``attention_row(i, head=h)`` is row i of the SSD matrix ``L ⊙ C Bᵀ`` (times Δ_j), never T × T.

    Example::

        from tr_widgets.engine.state import trace_state
        t = trace_state("mamba2", x=torch.randn(1, 6, 2, 3), dt=torch.rand(1, 6, 2), A=-torch.ones(2),
                        B=torch.randn(1, 6, 1, 4), C=torch.randn(1, 6, 1, 4))    # or trace_mixer_call on a Mamba2Mixer
        assert isinstance(t.spec, Mamba2Kind)
        t.quantities(2)["dA"].shape == (1, 2)        # [B, heads]: one decay per head
        t.attention_row(5, head=0).shape == (1, 6)   # [B, i + 1]: row 5 of the SSD matrix
    """

    name, title = "mamba2", "Mamba-2 SSD"
    classes = ("transformers.models.mamba2.modeling_mamba2.Mamba2Mixer",)
    # Mamba2Mixer, BambaMixer, NemotronHMamba2Mixer, Zamba2MambaMixer, GraniteMoeHybridMambaLayer, FalconH1Mixer
    pattern = r"Mixer$|MambaLayer$"
    needs = ("in_proj", "conv1d", "dt_bias", "A_log", "D", "norm", "out_proj", "n_groups", "head_dim")
    inputs, optional = ("x", "dt", "B", "C", "gate"), ("gate", "D")
    state_names = ("ssm",)
    names = ("x", "dt", "dA", "B", "Bx", "C", "D", "y")
    shapes = {"x": "BTHP", "dt": "BTH", "B": "BTGN", "C": "BTGN", "A": "H", "D": "H"}

    def read(self, module, args, kwargs):
        hidden, mask = hidden_and_mask(args, kwargs)
        conv = module.conv1d
        consts = {"in_w": module.in_proj.weight, "in_b": module.in_proj.bias, "conv_w": conv.weight.squeeze(1),
                  "conv_b": conv.bias, "act": activation(module.activation, module.act), "dt_bias": module.dt_bias,
                  "A": -torch.exp(module.A_log.float()), "D": module.D,
                  # the module's own gated norm (group size, gate before or after: each variant's own)
                  "norm": _gated_norm_data(module),
                  "out_w": module.out_proj.weight, "out_b": module.out_proj.bias,
                  "dt_limit": tuple(module.time_step_limit), "conv_width": module.conv_kernel_size,
                  "sizes": (module.intermediate_size, module.conv_dim, module.num_heads, module.head_dim,
                            module.n_groups, module.ssm_state_size), "dtype": hidden.dtype,
                  # FalconH1's multipliers (absent elsewhere: 1) and its optional gated norm
                  "in_mult": getattr(module, "ssm_in_multiplier", 1.0), "mup": getattr(module, "mup_vector", None)}
        return hidden, mask, consts

    def _project(self, hidden, c):
        proj = F.linear(hidden * c.get("in_mult", 1.0), c["in_w"], c["in_b"])  # [B, T, d_in_proj]
        return proj if c.get("mup") is None else proj * c["mup"]

    def conv_input(self, hidden, c):
        inner, conv_dim, _, _, _, _ = c["sizes"]
        return self._project(hidden, c)[..., inner:inner + conv_dim].transpose(1, 2)  # [B, conv_dim, T]

    def prepare(self, hidden, mask, c, initial):
        inner, conv_dim, H, P, G, N = c["sizes"]
        Bt, T, _ = hidden.shape
        gate, xBC, dt = self._project(mask_tokens(hidden, mask), c).split([inner, conv_dim, H], dim=-1)
        xBC = causal_conv(xBC.transpose(1, 2), c["conv_w"], c["conv_b"], c["act"],
                          None if initial is None else initial.get("conv"))  # [B, conv_dim, T]
        x, B, C = torch.split(mask_tokens(xBC.transpose(1, 2), mask), [inner, G * N, G * N], dim=-1)
        dt = F.softplus(dt + c["dt_bias"].to(dt.dtype)).clamp(*c["dt_limit"])  # [B, T, H]
        return {"x": x.view(Bt, T, H, P), "dt": dt, "B": B.view(Bt, T, G, N), "C": C.view(Bt, T, G, N), "gate": gate}

    def finish(self, y, inputs, c):
        y = y.reshape(*y.shape[:2], -1)  # [B, T, H, P] -> [B, T, d_inner]
        if "gate" in inputs and c.get("norm") is not None:
            w, eps, group, gate_first = c["norm"]
            y = gated_rmsnorm(y, inputs["gate"], w, eps, group, gate_first=gate_first)
        elif "gate" in inputs:  # FalconH1 without mamba_rms_norm: the SiLU gate alone
            y = y * F.silu(inputs["gate"])
        return F.linear(y.to(c["dtype"]), c["out_w"], c["out_b"])

    def zero(self, inputs, c):
        Bt, _, H, P = inputs["x"].shape
        return (torch.zeros(Bt, H, P, inputs["B"].shape[-1], dtype=torch.float32, device=inputs["x"].device),)

    def _per_head(self, inputs):
        # float32 throughout, as the model's chunk path computes (x, Δ, B, C all .float())
        H = inputs["x"].shape[2]
        return (inputs["x"].float(), inputs["dt"].float(), scan.heads_of(inputs["B"], H).float(),
                scan.heads_of(inputs["C"], H).float())

    def run(self, state, inputs, c, keep):
        x, dt, B, _ = self._per_head(inputs)
        dA, Bx = scan.ssd_coeffs(x, dt, c["A"], B)
        h, hs = scan.linear_scan(None if state is None else state[0], dA[..., None, None], Bx, keep, reuse_b=True)
        return (h,), (None if hs is None else (hs,))

    def readout(self, start, states, inputs, c):
        x, _, _, C = self._per_head(inputs)
        return scan.ssd_readout(states[0], x, C, None if c.get("D") is None else c["D"].float())

    def step(self, state, inputs_t, c):
        x, dt, B, C = (v[:, 0] for v in self._per_head(inputs_t))
        D = None if c.get("D") is None else c["D"].float()
        h, y, parts = scan.ssd_step(state[0], x, dt, c["A"], B, C, D)
        return (h,), y, parts

    def attention_row(self, trace, i, head):
        """w[b, j] = (C_i · B_j) exp(Σ_{j<k≤i} Δ_k A_h) Δ_j, so Σ_j w_j x_j = h_i C_i for this head (from the
        tokens of this call); an [B, i+1] row of ``L ⊙ C Bᵀ``, never the T × T matrix."""
        head = 0 if head is None else head
        _, dt, B, C = self._per_head({k: v[:, : i + 1] for k, v in trace.inputs.items() if k != "gate"})
        dt = dt[:, :, head]  # [B, i+1]
        log_a = dt * trace.consts["A"][head].float()  # [B, i+1]
        suffix = log_a.flip(1).cumsum(1).flip(1) - log_a  # [B, i+1]: Σ_{j<k≤i}
        cb = torch.einsum("bn,bjn->bj", C[:, i, head], B[:, :, head])  # [B, i+1]
        return cb * torch.exp(suffix) * dt

    def checkpoints(self, inputs, c, every, initial):
        """States at segment ends without a loop over time: SSD's chunk states (closed form per segment)
        chained by a loop over the T/every segments."""
        x, dt, B, _ = self._per_head(inputs)
        Bt, T = x.shape[:2]
        S = T // every

        def fold(v):  # [B, T, ...] -> [B, S, K, ...] (the tail beyond S·K needs no checkpoint)
            return v[:, : S * every].reshape(Bt, S, every, *v.shape[2:])

        log_a = fold(dt * c["A"].float())  # [B, S, K, H]
        local = scan.ssd_segment_states(log_a, fold(x), fold(dt), fold(B))  # [B, S, H, P, N]
        decay = torch.exp(log_a.sum(2))[..., None, None]  # [B, S, H, 1, 1]
        h = initial[0].float()
        out = [h]
        for s in range(S):
            h = decay[:, s] * h + local[:, s]
            out.append(h)
        return [torch.stack(out)]  # [S+1, B, H, P, N]


MAMBA = register(MambaKind())
MAMBA2 = register(Mamba2Kind())
