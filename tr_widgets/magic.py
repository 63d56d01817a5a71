"""``%tr_step`` / ``%%tr_step``: one line to watch a model compute. Sugar for the public API.

``%load_ext tr_widgets`` registers the magic. Every form returns the widget (``w = %tr_step ...`` works) and
``%tr_step?`` shows, for each form, the Python it stands for. This is the only module that imports IPython.

Demos live in :data:`DEMOS` (name -> :class:`Demo`); another module adds one with :func:`register_demo`
(e.g. ``decode``) and ``%tr_step?`` lists it from then on.
"""
from __future__ import annotations

import argparse
import keyword
import re
import shlex
from dataclasses import dataclass
from typing import Callable

import ipywidgets as w
import torch
from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class

from .engine import AttentionTrace, RecurrentTrace, trace_attention, trace_recurrent
from .engine.capture import SUPPORTED, Capture, capture


@dataclass
class Demo:
    """A ``%tr_step NAME [options]`` demo: argparse options, what it builds, the Python it stands for.

    ``arguments``: ``[(flags, add_argument kwargs), ...]``; ``build(args)`` returns a trace (shown with
    ``tr_widgets.show``) or a widget; ``python(args)`` returns the equivalent code as text.
    """

    summary: str
    arguments: list
    build: Callable
    python: Callable

    def parser(self, name: str) -> argparse.ArgumentParser:
        p = _Parser(prog=f"%tr_step {name}", description=self.summary, add_help=True)
        for flags, kwargs in self.arguments:
            p.add_argument(*flags, **kwargs)
        return p


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse would print and exit; the shell must keep working
        raise UsageError(f"{self.prog}: {message} (see %tr_step? for the options)")

    def exit(self, status=0, message=None):  # after --help
        raise _HelpShown()


class _HelpShown(Exception):
    pass


DEMOS: dict[str, Demo] = {}


def register_demo(name: str, demo: Demo) -> None:
    """Add ``%tr_step NAME``; ``%tr_step?`` documents it from then on.

    Example: ``register_demo("decode", Demo("token by token with a KV cache", [...], build, python))``
    """
    if not (isinstance(name, str) and name.isidentifier() and not keyword.iskeyword(name)):
        raise ValueError(f"name: expected a Python identifier, got {name!r}. Fix: pass e.g. 'decode'")
    if not isinstance(demo, Demo):
        raise ValueError(f"demo: expected a tr_widgets.magic.Demo, got {type(demo).__name__}. "
                         "Fix: wrap it in Demo(...)")
    DEMOS[name] = demo
    TrStepMagics.tr_step.__doc__ = _doc()


# -- option types: one clear line when a value is wrong --------------------------------------
def _int_in(lo: int, hi: int):
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer in [{lo}, {hi}], got {text!r}") from None
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"expected an integer in [{lo}, {hi}], got {v}")
        return v
    return parse


def _numbers(text: str) -> list[float]:
    parts = [p for p in re.split(r"[\s,]+", text.strip()) if p]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        bad = next(p for p in parts if not _is_float(p))
        raise argparse.ArgumentTypeError(f"expected numbers separated by spaces or commas, got {bad!r} "
                                         f"(e.g. --input \"1 2 3 4 5\")") from None
    if not 1 <= len(values) <= 512:
        raise argparse.ArgumentTypeError(f"expected 1 to 512 numbers, got {len(values)}")
    return values


def _is_float(p: str) -> bool:
    try:
        float(p)
        return True
    except ValueError:
        return False


def _tokens(text: str) -> list[str]:
    toks = text.split()
    if not 1 <= len(toks) <= 64:
        raise argparse.ArgumentTypeError(f"expected 1 to 64 words, got {len(toks)}")
    return toks


# -- the built-in demos ----------------------------------------------------------------------
_SEQ_ARGS = [
    (("--input",), dict(type=_numbers, default="1 2 3 4 5", help="the sequence, one number per step (input size 1)")),
    (("--hidden",), dict(type=_int_in(1, 256), default=10, help="hidden size (1..256)")),
    (("--layers",), dict(type=_int_in(1, 4), default=1, help="stacked layers (1..4)")),
    (("--bidirectional",), dict(action="store_true", help="also run the sequence backwards")),
    (("--seed",), dict(type=_int_in(0, 2**31 - 1), default=0, help="torch.manual_seed for the weights")),
]


def _seq_build(cls):
    def build(a):
        torch.manual_seed(a.seed)
        extra = {"nonlinearity": a.nonlinearity} if cls is torch.nn.RNN else {}
        module = cls(input_size=1, hidden_size=a.hidden, num_layers=a.layers, bidirectional=a.bidirectional, **extra)
        x = torch.tensor(a.input).view(-1, 1, 1)  # [T, batch=1, features=1]
        return trace_recurrent(module, x, name=cls.__name__.lower())
    return build


def _seq_python(cls):
    def python(a):
        extra = f", nonlinearity={a.nonlinearity!r}" if cls is torch.nn.RNN else ""
        nums = ", ".join(repr(float(v)) for v in a.input)
        return (f"torch.manual_seed({a.seed})\n"
                f"module = torch.nn.{cls.__name__}(input_size=1, hidden_size={a.hidden}, num_layers={a.layers}, "
                f"bidirectional={a.bidirectional}{extra})\n"
                f"x = torch.tensor([{nums}]).view(-1, 1, 1)   # [T, batch=1, features=1]\n"
                f"tr_widgets.show(tr_widgets.trace_recurrent(module, x))")
    return python


def _attention_build(a):
    torch.manual_seed(a.seed)
    q, k, v = torch.randn(3, 1, a.heads, len(a.tokens), a.dim).unbind(0)  # [batch=1, heads, T, dim] each
    return trace_attention(q, k, v, is_causal=a.causal, tokens=a.tokens, name="attention")


def _attention_python(a):
    return (f"torch.manual_seed({a.seed})\n"
            f"tokens = {' '.join(a.tokens)!r}.split()\n"
            f"q, k, v = torch.randn(3, 1, {a.heads}, len(tokens), {a.dim}).unbind(0)   # [batch=1, heads, T, dim]\n"
            f"tr_widgets.show(tr_widgets.trace_attention(q, k, v, is_causal={a.causal}, tokens=tokens))")


for _cls, _what in ((torch.nn.LSTM, "an LSTM: gates i, f, g, o, cell state and hidden state at every step"),
                    (torch.nn.GRU, "a GRU: gates r, z, candidate n and hidden state at every step"),
                    (torch.nn.RNN, "an Elman RNN: h_t = tanh(W_ih x_t + b_ih + W_hh h_(t-1) + b_hh) at every step")):
    _args = list(_SEQ_ARGS) + ([(("--nonlinearity",), dict(choices=["tanh", "relu"], default="tanh",
                                                          help="tanh or relu"))] if _cls is torch.nn.RNN else [])
    DEMOS[_cls.__name__.lower()] = Demo(_what, _args, _seq_build(_cls), _seq_python(_cls))

DEMOS["attention"] = Demo(
    "scaled dot-product attention over a few tokens, one query at a time (random q, k, v)",
    [(("--tokens",), dict(type=_tokens, default="the cat sat on the mat", help="the words (1..64)")),
     (("--dim",), dict(type=_int_in(1, 64), default=8, help="size of q, k and v per head (1..64)")),
     (("--heads",), dict(type=_int_in(1, 8), default=1, help="heads (1..8)")),
     (("--causal",), dict(action="store_true", help="each query sees only itself and earlier tokens")),
     (("--seed",), dict(type=_int_in(0, 2**31 - 1), default=0, help="torch.manual_seed for q, k, v"))],
    _attention_build, _attention_python)


def _decode_build(a):
    from .engine.decode import decode
    from .models import load_tiny

    model, tok = load_tiny()
    return decode(model, a.prompt, a.new_tokens, use_cache=not a.no_cache, tokenizer=tok, sample=a.sample,
                  seed=a.seed if a.sample else None)


def _decode_python(a) -> str:
    extra = ("" if not a.no_cache else ", use_cache=False") + (f", sample=True, seed={a.seed}" if a.sample else "")
    return ("model, tok = tr_widgets.load_tiny()\n"
            f"trace = tr_widgets.decode(model, {a.prompt!r}, {a.new_tokens}, tokenizer=tok{extra})\n"
            "tr_widgets.show(trace)")


DEMOS["decode"] = Demo(
    "the shipped tiny GPT continues a prompt one token per tick, its KV cache growing in view",
    [(("--prompt",), dict(default="The cat sat on the", help="the text to continue (words of the tiny model)")),
     (("--new-tokens",), dict(type=_int_in(1, 32), default=5, help="tokens to generate, one per tick (1..32)")),
     (("--no-cache",), dict(action="store_true", help="recompute every position at every tick (no KV cache)")),
     (("--sample",), dict(action="store_true", help="draw each token from the probabilities, not the top one")),
     (("--seed",), dict(type=_int_in(0, 2**31 - 1), default=0, help="the sampling seed (with --sample)"))],
    _decode_build, _decode_python)


# -- showing what was recorded ---------------------------------------------------------------
def view_of(rec: Capture, what: str):
    """The stepper of the one trace ``rec`` holds, or a :class:`CaptureView` of several."""
    from .widgets import CaptureView, show

    traces = rec.traces
    if not traces:
        skipped = "; ".join(f"{n}: {why}" for n, why in rec.skipped)
        raise UsageError(f"nothing recorded: {what} ran none of the supported modules ({SUPPORTED})"
                         + (f"; skipped {skipped}" if skipped else ""))
    return show(traces[0][1]) if len(traces) == 1 else CaptureView(traces)  # several: choose among them


def _run_demo(name: str, rest: str):
    demo = DEMOS[name]
    try:
        argv = shlex.split(rest)
    except ValueError as e:
        raise UsageError(f"%tr_step {name}: cannot split the options ({e}); quote values like --input \"1 2 3\"")
    parser = demo.parser(name)
    try:
        args = parser.parse_args(argv)
    except _HelpShown:
        print("\nStands for:\n" + demo.python(parser.parse_args([])))  # argparse printed the options
        return None
    made = demo.build(args)
    if isinstance(made, w.Widget):
        return made
    from .widgets import show

    return show(made)


@magics_class
class TrStepMagics(Magics):
    """Holds ``%tr_step`` / ``%%tr_step`` (registered by ``%load_ext tr_widgets``)."""

    @line_cell_magic
    def tr_step(self, line: str, cell: str | None = None):
        if cell is not None:
            return self._cell(line, cell)
        line = line.strip()
        if not line:
            raise UsageError(f"%tr_step: expected a demo ({', '.join(sorted(DEMOS))}) or a Python expression, "
                             "got nothing (see %tr_step?)")
        first, _, rest = line.partition(" ")
        if first in DEMOS:
            return _run_demo(first, rest)
        ns = self.shell.user_ns
        if first.isidentifier() and (re.match(r"--?[A-Za-z]", rest.lstrip()) or (not rest and first not in ns
                                                                       and first not in self.shell.user_global_ns)):
            raise UsageError(f"%tr_step: unknown demo {first!r}; the demos are {', '.join(sorted(DEMOS))} "
                             f"(or give a Python expression to run under capture)")
        return self._expr(line)

    def _expr(self, expr: str):
        try:
            code = compile(expr, "<%tr_step>", "eval")
        except SyntaxError as e:
            raise UsageError(f"%tr_step: {expr!r} is neither a demo ({', '.join(sorted(DEMOS))}) nor a Python "
                             f"expression ({e.msg})") from None
        with capture(scope=self.shell.user_ns) as rec:
            value = eval(code, self.shell.user_global_ns, self.shell.user_ns)  # errors are the user's own
        if not len(rec) and isinstance(value, (RecurrentTrace, AttentionTrace)):
            from .widgets import show

            return show(value)  # %tr_step tr: a trace made earlier
        if not len(rec) and isinstance(value, Capture):
            return view_of(value, expr)  # %tr_step rec: a capture made earlier
        return view_of(rec, repr(expr))

    def _cell(self, line: str, cell: str):
        if line.strip():
            raise UsageError(f"%%tr_step: takes no options, got {line.strip()!r} (write the code in the cell)")
        code = compile(self.shell.transform_cell(cell), "<%%tr_step>", "exec")
        with capture(scope=self.shell.user_ns) as rec:
            exec(code, self.shell.user_global_ns, self.shell.user_ns)  # the cell's variables stay defined
        return view_of(rec, "the cell")


def _doc() -> str:
    demo_docs = []
    for name in sorted(DEMOS):
        demo = DEMOS[name]
        p = demo.parser(name)
        opts = "\n".join(f"      {', '.join(a.option_strings):16} {a.help}" +
                         (f" (default: {a.default if not isinstance(a.default, list) else a.default})"
                          if a.default is not None and a.default is not False and a.default != argparse.SUPPRESS
                          else "")
                         for a in p._actions if a.option_strings and a.dest != "help")
        code = "\n".join("        " + ln for ln in demo.python(p.parse_args([])).splitlines())
        demo_docs.append(f"  %tr_step {name} [options]\n      {demo.summary}\n{opts}\n    stands for:\n{code}")
    return f"""Watch a model compute one step at a time. Every form returns the widget: ``w = %tr_step ...``.

Demos ({', '.join(sorted(DEMOS))}); ``%tr_step NAME --help`` prints one demo's options. Each
"stands for" block is plain Python after ``import torch, tr_widgets``:

{chr(10).join(demo_docs)}

  %tr_step EXPR
      Evaluates EXPR in your namespace under capture and shows what it recorded: {SUPPORTED}.
      Several recorded: a dropdown of their names above the stepper. EXPR may also be a trace or a
      capture made earlier (``%tr_step tr``). Stands for:
        with tr_widgets.capture(scope=globals()) as rec:
            EXPR
        tr_widgets.show(rec.traces[0][1] if len(rec.traces) == 1 else rec)   # several: choose by name

  %%tr_step
  CODE
      Runs the cell under capture (its variables stay defined) and shows what it recorded. Stands for:
        with tr_widgets.capture(scope=globals()) as rec:
            CODE
        tr_widgets.show(rec.traces[0][1] if len(rec.traces) == 1 else rec)

Errors: an unknown demo, a bad option value or nothing recorded raise a one-line UsageError; an error
inside EXPR or CODE (a NameError, say) is raised as itself.
"""


TrStepMagics.tr_step.__doc__ = _doc()


def load_ipython_extension(ip) -> None:
    """``%load_ext tr_widgets`` (through ``tr_widgets.load_ipython_extension``) registers the magics."""
    ip.register_magics(TrStepMagics)
