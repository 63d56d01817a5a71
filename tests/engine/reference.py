"""An independent, deliberately naive reference: torch's documented cell equations stepped one
time step at a time in a Python loop. The tests first prove it reproduces the module's own output,
then use its per-step gates as the oracle for the engine's batched replay."""
import torch


def _w(m, name, layer, d, cell):
    sfx = "" if cell else f"_l{layer}" + ("_reverse" if d else "")
    return getattr(m, name + sfx, None)


def reference_run(m, kind, xs, h0, c0, cell=False):
    """xs [T, B, I] time-major; h0/c0 [L*D, B, *]. Returns per (layer, dir): dict of [T, B, H] lists."""
    L = 1 if cell else m.num_layers
    D = 2 if getattr(m, "bidirectional", False) else 1
    T = xs.shape[0]
    out, inp = {}, xs
    for layer in range(L):
        outs = []
        for d in range(D):
            w_ih, w_hh = _w(m, "weight_ih", layer, d, cell), _w(m, "weight_hh", layer, d, cell)
            b_ih, b_hh = _w(m, "bias_ih", layer, d, cell), _w(m, "bias_hh", layer, d, cell)
            w_hr = _w(m, "weight_hr", layer, d, cell) if getattr(m, "proj_size", 0) else None
            b_ih = torch.zeros(w_ih.shape[0], dtype=xs.dtype) if b_ih is None else b_ih
            b_hh = torch.zeros(w_hh.shape[0], dtype=xs.dtype) if b_hh is None else b_hh
            h, c = h0[layer * D + d], None if c0 is None else c0[layer * D + d]
            rec = {k: [None] * T for k in ("h", "c", "i", "f", "g", "o", "r", "z", "n")}
            order = range(T - 1, -1, -1) if d else range(T)
            for t in order:
                x = inp[t]
                gi, gh = x @ w_ih.T + b_ih, h @ w_hh.T + b_hh
                if kind == "lstm":
                    H = gi.shape[-1] // 4
                    i = torch.sigmoid(gi[..., :H] + gh[..., :H])
                    f = torch.sigmoid(gi[..., H:2 * H] + gh[..., H:2 * H])
                    g = torch.tanh(gi[..., 2 * H:3 * H] + gh[..., 2 * H:3 * H])
                    o = torch.sigmoid(gi[..., 3 * H:] + gh[..., 3 * H:])
                    c = f * c + i * g
                    h = o * torch.tanh(c)
                    if w_hr is not None:
                        h = h @ w_hr.T
                    rec["i"][t], rec["f"][t], rec["g"][t], rec["o"][t], rec["c"][t] = i, f, g, o, c
                elif kind == "gru":
                    H = gi.shape[-1] // 3
                    r = torch.sigmoid(gi[..., :H] + gh[..., :H])
                    z = torch.sigmoid(gi[..., H:2 * H] + gh[..., H:2 * H])
                    n = torch.tanh(gi[..., 2 * H:] + r * gh[..., 2 * H:])
                    h = (1 - z) * n + z * h
                    rec["r"][t], rec["z"][t], rec["n"][t] = r, z, n
                else:
                    a = gi + gh
                    h = torch.tanh(a) if kind == "rnn_tanh" else torch.relu(a)
                rec["h"][t] = h
            out[layer, d] = {k: torch.stack(v) for k, v in rec.items() if v[0] is not None}
            outs.append(out[layer, d]["h"])
        inp = torch.cat(outs, dim=-1)
    return out, inp


def check_overview(at, idx, fr, fc, block_cells=40):
    """``pooled_weights`` of trace ``at`` equals max-pooling its full weights (and its blocked cells),
    with small blocks so that many row blocks are streamed."""
    import torch.nn.functional as F

    from tr_widgets.engine.attention import pooled_weights
    pooled, blocked = pooled_weights(at, idx, (fr, fc), block_cells=block_cells)
    L, S = at.L, at.S
    w = F.pad(at.weights[idx].float(), (0, -S % fc, 0, -L % fr), value=float("-inf"))  # pads never win
    expected = w.reshape(-(-L // fr), fr, -(-S // fc), fc).amax((1, 3))
    torch.testing.assert_close(pooled, expected, atol=1e-6, rtol=1e-5)
    if at.has_mask:
        b = F.pad(at.blocked[idx], (0, -S % fc, 0, -L % fr), value=True)
        assert torch.equal(blocked, b.reshape(-(-L // fr), fr, -(-S // fc), fc).all(3).all(1))
    else:
        assert blocked is None
