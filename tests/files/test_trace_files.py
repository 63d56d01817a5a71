"""Traces as files (issue 25): ``trace.save(path)`` / ``tr_widgets.load(path)`` for every kind.

The oracle is the original trace itself: the loaded one must hold the same values (every tensor of the file
compared bitwise with the original's), derive the same stages, and give a stepper that draws the same frames
(its exported page, frame bytes included, and its SVG at a few steps). Bad files get one TraceInputError
naming the path.
"""
import json
import pathlib

import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import nn

import tr_widgets
from tests.loops.test_op_loops import LSTMScratch
from tr_widgets.engine.errors import TraceInputError
from tr_widgets.engine.files import codec, format as fmt, kinds
from tr_widgets.engine.files.capture_file import SavedCapture
from tr_widgets.widgets.save import view_svg


def _recurrent():
    torch.manual_seed(0)
    return tr_widgets.trace_recurrent(nn.LSTM(3, 4, num_layers=2, bidirectional=True), torch.randn(6, 2, 3))


def _packed_gru():
    torch.manual_seed(1)
    seqs = [torch.randn(5, 3), torch.randn(3, 3)]
    return tr_widgets.trace_recurrent(nn.GRU(3, 4), nn.utils.rnn.pack_sequence(seqs, enforce_sorted=False))


def _attention():
    torch.manual_seed(2)
    q, k, v = torch.randn(1, 2, 5, 4), torch.randn(1, 2, 5, 4), torch.randn(1, 2, 5, 3)
    return tr_widgets.trace_attention(q, k, v, is_causal=True, tokens=list("abcde"))


class HandAttention(nn.Module):
    """Attention written by hand, with a soft cap and a mask: a ChainTrace with steps of several kinds."""

    def forward(self, q, k, v):
        s = q @ k.transpose(-2, -1) / 2.0
        s = torch.tanh(s / 5.0) * 5.0
        s = s.masked_fill(torch.ones(5, 5, dtype=torch.bool).triu(1), float("-inf"))
        return torch.softmax(s, dim=-1) @ v


def _chain():
    torch.manual_seed(3)
    with tr_widgets.capture(m := HandAttention()) as rec:
        m(torch.randn(1, 5, 4), torch.randn(1, 5, 4), torch.randn(1, 5, 4))
    return rec.traces[0][1]


def _gradients():
    torch.manual_seed(4)
    return tr_widgets.trace_gradients(nn.LSTM(3, 4), torch.randn(6, 1, 3), lambda out: out[0][-1].sum())


def _decode():
    model, tok = tr_widgets.load_tiny()
    return tr_widgets.decode(model, "the cat", 3, tokenizer=tok)


def _state():
    from tr_widgets.engine.state import trace_state

    torch.manual_seed(5)
    return trace_state("mamba2", x=torch.randn(1, 8, 2, 3), dt=torch.rand(1, 8, 2), A=-torch.ones(2),
                       B=torch.randn(1, 8, 1, 4), C=torch.randn(1, 8, 1, 4))


def _effective():
    return _state().effective_attention()


def _loop(T=5):
    torch.manual_seed(6)
    with tr_widgets.capture(model := LSTMScratch(3, 4)) as rec:
        model(torch.randn(T, 2, 3))
    return rec.traces[0][1]


def _capture():
    model, tok = tr_widgets.load_tiny()
    with tr_widgets.capture(model) as rec:
        model(torch.tensor([tok.encode("the cat sat")]))
    return rec


def _mamba_capture():
    """A Hugging Face Mamba (from a config): its StateTraces hold the module's constants, a torch activation
    function and a dtype among them, which the file keeps by name."""
    from tests.state import build

    model = build("mamba")
    with tr_widgets.capture(model) as rec:
        model(torch.randint(0, 64, (1, 6)))
    return rec


def _mamba_decode():
    """Decoding a state-space model: each tick keeps one StateTrace per mixer (the cache's state carried over)."""
    import transformers as tf

    torch.manual_seed(8)
    cfg = tf.MambaConfig(vocab_size=64, hidden_size=32, state_size=8, num_hidden_layers=2, conv_kernel=4,
                         expand=2, time_step_rank=4)
    return tr_widgets.decode(tf.MambaForCausalLM(cfg).eval(), torch.tensor([[1, 2, 3]]), 3)


MAKERS = {"recurrent": _recurrent, "packed": _packed_gru, "attention": _attention, "chain": _chain,
          "gradients": _gradients, "decode": _decode, "state": _state, "effective": _effective,
          "loop": _loop, "capture": _capture, "mamba capture": _mamba_capture,
          "mamba decode": _mamba_decode}


def _body(trace):
    """(JSON body, tensors) as the file would hold them: the oracle for 'the same values'."""
    w = codec.Writer(kinds.TABLE)
    return json.dumps(w.encode(trace), sort_keys=True), w.tensors


def _same_values(a, b) -> None:
    (body_a, ta), (body_b, tb) = _body(a), _body(b)
    assert body_a == body_b
    assert ta.keys() == tb.keys() and all(torch.equal(ta[k], tb[k]) and ta[k].dtype == tb[k].dtype for k in ta)


def _pages(w, steps) -> list:
    """The exported page (frame bytes within it) and the SVG of each of ``steps``: what a stepper draws."""
    out = [w.export_html()]
    for s in steps:
        w.step = s
        out.append(view_svg(w))
    return out


@pytest.mark.parametrize("name", list(MAKERS))
def test_round_trip_keeps_every_value_and_the_stepper_draws_the_same(name, tmp_path):
    trace = MAKERS[name]()
    path = trace.save(tmp_path / f"{name}.trace")
    back = tr_widgets.load(path)
    assert type(back) is (SavedCapture if name.endswith("capture") else type(trace))
    _same_values(trace, back)
    captured = isinstance(trace, tr_widgets.engine.capture.Capture)
    for (n, a), (m, b) in zip(*(t.traces if captured else [("", t)] for t in (trace, back)), strict=True):
        assert n == m and repr(a) == repr(b)
        wa, wb = tr_widgets.show(a), tr_widgets.show(b)
        steps = sorted({0, wa.controller.n_steps // 2, wa.controller.n_steps - 1})
        assert _pages(wa, steps) == _pages(wb, steps)


def test_lazy_stages_derive_the_same_after_loading(tmp_path):
    """What the file does not hold is derived again, bitwise the same: gates, cells, weights, states."""
    rec, at, st = _recurrent(), _chain(), _state()
    r2, a2, s2 = (tr_widgets.load(t.save(tmp_path / f"{i}.trace")) for i, t in enumerate((rec, at, st)))
    for layer in range(2):
        for d in range(2):
            assert all(torch.equal(r2.gates(layer, d)[g], rec.gates(layer, d)[g]) for g in "ifgo")
            assert torch.equal(r2.cell(layer, d), rec.cell(layer, d))
    assert torch.equal(a2.weights, at.weights) and a2.steps[0] == at.steps[0]
    tup = lambda v: v if isinstance(v, tuple) else (v,)  # noqa: E731  one state component, or several
    assert all(torch.equal(a, b) for a, b in zip(tup(s2.states()), tup(st.states()), strict=True))
    assert torch.equal(s2.state(5), st.state(5))


def test_a_long_loop_saves_its_re_derived_values(tmp_path):
    """A steady loop re-derives its steps by replaying the user's code; the file holds every step's values."""
    tr = _loop(T=90)
    assert tr.derive is not None
    back = tr_widgets.load(tr.save(tmp_path / "loop.trace"))
    assert back.derive is None
    for t in (0, 45, 89):
        want, got = tr.quantities(t), back.quantities(t)
        assert want.keys() == got.keys() and all(torch.equal(want[k], got[k]) for k in want)


def test_the_file_is_safetensors_with_our_json_header_and_no_pickle(tmp_path):
    path = _attention().save(tmp_path / "a.trace")
    raw = path.read_bytes()
    assert b"\x80\x04" not in raw[:16] and raw[8:9] == b"{"  # a safetensors header, not a pickle stream
    header = fmt.read_header(path)
    assert (header["format"], header["version"], header["kind"]) == (fmt.FORMAT, fmt.VERSION, "AttentionTrace")
    assert set(load_file(str(path))) == {"t0", "t1", "t2"}  # q, k, v: nothing else is kept


def _rewrite(path, change) -> None:
    tensors = load_file(str(path))
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        meta = json.loads(f.metadata()[fmt.KEY])
    change(meta)
    save_file(tensors, str(path), metadata={fmt.KEY: json.dumps(meta)})


@pytest.mark.parametrize("bad", ["not ours", "other safetensors", "truncated", "truncated header", "newer", "missing"])
def test_bad_files_get_one_clear_message_naming_the_path(bad, tmp_path):
    path = _attention().save(tmp_path / "a.trace")
    if bad == "not ours":
        path.write_text("hello, I am a notebook")
    elif bad == "other safetensors":
        save_file({"w": torch.ones(2)}, str(path))
    elif bad == "truncated":
        path.write_bytes(path.read_bytes()[:-7])
    elif bad == "truncated header":
        path.write_bytes(path.read_bytes()[:40])
    elif bad == "newer":
        _rewrite(path, lambda meta: meta.update(version=fmt.VERSION + 1))
    else:
        path = tmp_path / "nowhere.trace"
    with pytest.raises(TraceInputError) as err:
        tr_widgets.load(path)
    msg = str(err.value)
    assert str(path) in msg and "Fix:" in msg and "\n" not in msg
    if bad == "newer":
        assert f"version {fmt.VERSION + 1}" in msg


def test_what_a_file_cannot_hold_is_refused_clearly(tmp_path):
    with pytest.raises(TraceInputError, match="a trace made by tr_widgets"):
        from tr_widgets.engine.files import save_trace

        save_trace({"not": "a trace"}, tmp_path / "x.trace")
    with pytest.raises(TraceInputError, match="file path"):
        _attention().save(42)
    with pytest.raises(TraceInputError, match="can be written"):
        _attention().save(tmp_path / "no" / "such" / "dir" / "a.trace")
    path = _attention().save(tmp_path / "a.trace")
    with pytest.raises(TraceInputError, match="torch device"):
        tr_widgets.load(path, device="gpu please")
    if not torch.cuda.is_available():
        with pytest.raises(TraceInputError, match="CUDA is not available"):
            tr_widgets.load(path, device="cuda")
    assert not pathlib.Path(tmp_path / "x.trace").exists()


@pytest.mark.gpu
def test_a_trace_made_on_the_gpu_steps_on_a_laptop(tmp_path):
    """A teacher traces on CUDA; the file loads on the CPU (the default) or back on a GPU, with the same values."""
    torch.manual_seed(7)
    lstm, x = nn.LSTM(3, 4).cuda(), torch.randn(6, 1, 3, device="cuda")
    tr = tr_widgets.trace_recurrent(lstm, x)
    path = tr.save(tmp_path / "gpu.trace")
    cpu, gpu = tr_widgets.load(path), tr_widgets.load(path, device="cuda")
    assert cpu.x.device.type == "cpu" and gpu.x.device.type == "cuda"
    assert torch.equal(cpu.top, tr.top.cpu()) and torch.equal(gpu.top, tr.top)
    assert torch.equal(gpu.hidden(), tr.hidden())


def test_labels_of_any_text_round_trip(tmp_path):
    """Token labels are user text: CJK, emoji, and a lone surrogate (half of a byte-level token) all come back."""
    q = torch.randn(1, 1, 4, 2)
    at = tr_widgets.trace_attention(q, q, q, tokens=["猫", "🙂", "\ud800x", "<s>"])
    assert tr_widgets.load(at.save(tmp_path / "labels.trace")).tokens == at.tokens
