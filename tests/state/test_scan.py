"""The reference recurrences and bare-tensor traces against independent oracles written here in float64:
a per-step loop for Mamba, the quadratic (attention) form of SSD, and WKV's defining sums. No transformers."""
import pytest
import torch
import torch.nn.functional as F

from tr_widgets.engine.errors import TraceInputError
from tr_widgets.engine.state import kind_of, scan, trace_state

G = torch.Generator().manual_seed(0)


def rand(*shape, scale=1.0):
    return torch.randn(*shape, generator=G, dtype=torch.float64) * scale


def mamba_tensors(Bt=2, T=10, D=6, N=4):
    A = -torch.rand(D, N, generator=G, dtype=torch.float64) - 0.1
    return dict(x=rand(Bt, T, D), delta=F.softplus(rand(Bt, T, D)), A=A, B=rand(Bt, T, N), C=rand(Bt, T, N),
                D=rand(D), gate=rand(Bt, T, D))


def mamba_oracle(x, delta, A, B, C, D, gate):
    h, ys, hs = torch.zeros(x.shape[0], x.shape[2], A.shape[1], dtype=x.dtype), [], []
    for t in range(x.shape[1]):
        h = torch.exp(delta[:, t, :, None] * A) * h + delta[:, t, :, None] * B[:, t, None, :] * x[:, t, :, None]
        y = (h * C[:, t, None, :]).sum(-1) + D * x[:, t]
        ys.append(y * gate[:, t] / (1 + torch.exp(-gate[:, t])))
        hs.append(h)
    return torch.stack(ys, 1), torch.stack(hs, 1)


def ssd_tensors(Bt=2, T=9, H=4, P=3, G_=2, N=5):
    return dict(x=rand(Bt, T, H, P), dt=F.softplus(rand(Bt, T, H)), A=-torch.rand(H, generator=G, dtype=torch.float64)
                - 0.2, B=rand(Bt, T, G_, N), C=rand(Bt, T, G_, N), D=rand(H))


def ssd_matrix(x, dt, A, B, C):
    """The SSD matrix M[b, h, i, j] = (C_i · B_j) exp(Σ_{j<k≤i} Δ_k A_h) Δ_j for j ≤ i (Dao & Gu 2024, eq. 6)."""
    H, T = x.shape[2], x.shape[1]
    Bh, Ch = (v.repeat_interleave(H // v.shape[2], dim=2) for v in (B, C))
    cum = torch.cumsum(dt * A, dim=1)  # [b, T, H]
    seg = cum[:, :, None, :] - cum[:, None, :, :]  # [b, i, j, H]
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    L = torch.where(causal[None, :, :, None], torch.exp(seg), torch.zeros((), dtype=x.dtype))
    M = torch.einsum("bihn,bjhn->bijh", Ch, Bh) * L * dt[:, None, :, :]
    return M.permute(0, 3, 1, 2)  # [b, H, i, j]


def test_selective_scan_equals_a_per_step_loop():
    t = mamba_tensors()
    y, hs = scan.selective_scan(t["x"], t["delta"], t["A"], t["B"], t["C"], t["D"], t["gate"])
    y_ref, hs_ref = mamba_oracle(**t)
    # B̄x is formed in float32, as transformers' mamba_selective_scan does (B.float(), x.float())
    torch.testing.assert_close(y, y_ref, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(hs, hs_ref, rtol=1e-6, atol=1e-6)


def test_ssd_scan_equals_the_quadratic_form():
    t = ssd_tensors()
    y, _ = scan.ssd_scan(t["x"], t["dt"], t["A"], t["B"], t["C"], t["D"])
    M = ssd_matrix(t["x"], t["dt"], t["A"], t["B"], t["C"])
    y_ref = torch.einsum("bhij,bjhp->bihp", M, t["x"]) + t["x"] * t["D"][:, None]
    torch.testing.assert_close(y.double(), y_ref, rtol=1e-5, atol=1e-5)  # ssd_scan reads in float32, as the model


def test_wkv_scan_equals_its_defining_sums():
    Bt, T, A = 2, 7, 5
    k, v, decay, first = rand(Bt, T, A, scale=0.5), rand(Bt, T, A), rand(A, scale=0.3), rand(A, scale=0.3)
    wkv, (num, den, mx) = scan.wkv_scan(k, v, decay, first)
    w = torch.exp(decay)
    for t in range(T):
        past = torch.exp(-(t - 1 - torch.arange(t, dtype=k.dtype))[None, :, None] * w + k[:, :t])  # [b, t, A]
        now = torch.exp(first + k[:, t])
        ref = ((past * v[:, :t]).sum(1) + now * v[:, t]) / (past.sum(1) + now)
        torch.testing.assert_close(wkv[:, t].double(), ref, rtol=1e-5, atol=1e-6)
        kept = torch.exp(-(t - torch.arange(t + 1, dtype=k.dtype))[None, :, None] * w + k[:, : t + 1])
        real_num = num[:, t].double() * torch.exp(mx[:, t].double())  # the state is scaled by e^{-max}
        torch.testing.assert_close(real_num, (kept * v[:, : t + 1]).sum(1), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("every", [None, 1, 4, 100])
def test_trace_state_mamba_on_bare_tensors(every):
    t = mamba_tensors()
    tr = trace_state("mamba", every=every, **t)
    y_ref, hs_ref = mamba_oracle(**t)
    torch.testing.assert_close(tr.output, y_ref, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(tr.states(), hs_ref, rtol=1e-6, atol=1e-6)
    for step in (0, 4, -1):
        q, prev = tr.quantities(step), hs_ref[:, step - 1] if step % len(tr) else 0
        assert set(q) == set(tr.names)
        torch.testing.assert_close(tr.state(step), q["A_bar"] * prev + q["Bx"], rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(q["y"], y_ref[:, step], rtol=1e-6, atol=1e-6)


def test_trace_state_mamba2_rows_are_the_ssd_matrix():
    t = ssd_tensors()
    tr = trace_state("mamba2", **t)
    M = ssd_matrix(t["x"], t["dt"], t["A"], t["B"], t["C"])
    for i in (0, 3, 8):
        for h in range(4):
            torch.testing.assert_close(tr.attention_row(i, head=h).double(), M[:, h, i, : i + 1], rtol=1e-5, atol=1e-6)
    q = tr.quantities(5)
    torch.testing.assert_close(q["dA"], torch.exp(t["dt"][:, 5] * t["A"]).float())
    torch.testing.assert_close(tr.state(5), q["dA"][..., None, None] * tr.state(4) + q["Bx"])
    torch.testing.assert_close(tr.output[:, 5], q["y"])


def test_trace_state_rwkv_parts_and_rows():
    k, v, decay, first = rand(1, 6, 3, scale=0.5), rand(1, 6, 3), rand(3, scale=0.3), rand(3, scale=0.3)
    tr = trace_state("rwkv", k=k, v=v, time_decay=decay, time_first=first)
    wkv, (num, den, mx) = scan.wkv_scan(k, v, decay, first)
    torch.testing.assert_close(tr.output, wkv)
    assert tr.state_names == ("num", "den", "max")
    for step in range(6):
        q = tr.quantities(step)
        torch.testing.assert_close(q["numerator"] / q["denominator"], wkv[:, step])
        torch.testing.assert_close(tr.state(step), (num[:, step], den[:, step], mx[:, step]))
        row = tr.attention_row(step)  # [b, A, step+1], a softmax per channel
        torch.testing.assert_close(row.sum(-1), torch.ones(1, 3))
        torch.testing.assert_close((row * v[:, : step + 1].transpose(1, 2).float()).sum(-1), wkv[:, step].float())


def test_bad_bare_tensors_fail_clearly():
    t = mamba_tensors()
    with pytest.raises(TraceInputError, match="kind"):
        trace_state("lstm", **t)
    with pytest.raises(TraceInputError, match="^C: expected"):
        trace_state("mamba", **{**t, "C": t["C"][:, :, :2]})
    with pytest.raises(TraceInputError, match="^B: expected"):
        trace_state("mamba", **{k: v for k, v in t.items() if k != "B"})
    with pytest.raises(TraceInputError, match="every"):
        trace_state("mamba", every=0, **t)
    with pytest.raises(TraceInputError, match="unknown"):
        trace_state("mamba", bias=t["D"], **t)
    assert kind_of("mamba2").name == "mamba2"


def delta_tensors(Bt=2, T=11, Hk=2, Hv=4, dk=3, dv=5):
    from tr_widgets.engine.state.scan_delta import l2norm

    return dict(q=l2norm(rand(Bt, T, Hk, dk)) * dk ** -0.5, k=l2norm(rand(Bt, T, Hk, dk)), v=rand(Bt, T, Hv, dv),
                g=-F.softplus(rand(Bt, T, Hv)), beta=torch.sigmoid(rand(Bt, T, Hv)))


def delta_oracle(q, k, v, g, beta):
    """S_t = e^{g_t} (I − β_t k_t k_tᵀ) S_{t-1} + β_t k_t v_tᵀ and o_t = S_tᵀ q_t, as matrices, per head."""
    r = v.shape[2] // k.shape[2]
    q, k = q.repeat_interleave(r, 2), k.repeat_interleave(r, 2)
    S, outs, states = torch.zeros(*k.shape[:1], k.shape[2], k.shape[3], v.shape[3], dtype=v.dtype), [], []
    eye = torch.eye(k.shape[3], dtype=v.dtype)
    for t in range(k.shape[1]):
        kt, bt = k[:, t], beta[:, t, :, None, None]
        S = torch.exp(g[:, t])[..., None, None] * (eye - bt * kt[..., :, None] * kt[..., None, :]) @ S \
            + bt * kt[..., :, None] * v[:, t, :, None, :]
        outs.append((S.transpose(-1, -2) @ q[:, t, ..., None])[..., 0])
        states.append(S)
    return torch.stack(outs, 1), torch.stack(states, 1)


def test_gated_delta_rule_equals_its_matrix_form_and_segments_equal_the_loop():
    from tr_widgets.engine.state import scan_delta

    t = delta_tensors()
    o_ref, S_ref = delta_oracle(**t)
    tr = trace_state("gated_deltanet", every=3, **t)
    torch.testing.assert_close(tr.output.double(), o_ref, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(tr.states().double(), S_ref, rtol=1e-5, atol=1e-6)
    k = t["k"].repeat_interleave(2, 2)
    ends = scan_delta.delta_segment_ends(torch.zeros(2, 4, 3, 5, dtype=torch.float64), k, t["v"], t["g"], t["beta"], 3)
    torch.testing.assert_close(ends[1:], S_ref[:, 2::3][:, :3].transpose(0, 1), rtol=1e-6, atol=1e-8)
    q = tr.quantities(4)
    torch.testing.assert_close(q["delta"], q["beta"][..., None] * (q["v"] - q["kv_mem"]))
    for i in (0, 4, 10):
        for h in (0, 3):
            w = tr.attention_row(i, head=h)  # [B, i+1]: the delta rule's effective attention
            torch.testing.assert_close((w[..., None] * t["v"][:, : i + 1, h]).sum(1).double(), o_ref[:, i, h],
                                       rtol=1e-5, atol=1e-6)
