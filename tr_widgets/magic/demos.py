"""The ``%tr_step NAME`` demos. Each is one code template: ``python(args)`` writes the Python the demo
stands for, and running the demo executes exactly that text (``%tr_step?`` prints the same text), so the
documentation and the behaviour cannot drift apart.
"""
from __future__ import annotations

import argparse
import keyword
import math
import re
from dataclasses import dataclass
from typing import Callable

from IPython.core.error import UsageError

from ..engine.errors import TraceInputError, one_line


class HelpShown(Exception):
    """argparse printed ``--help``; nothing to run.

    Example::

        import contextlib, io
        with contextlib.redirect_stdout(io.StringIO()) as out:
            try: DEMOS["lstm"].parser("lstm").parse_args(["--help"])
            except HelpShown: pass
        ("--hidden" in out.getvalue()) == True   # the options were printed; the shell goes on
    """


class Parser(argparse.ArgumentParser):
    """An ArgumentParser for the shell: an error is one-line UsageError, ``--help`` raises :class:`HelpShown`
    (argparse itself would exit the process).

    Example::

        p = Parser(prog="%tr_step demo"); p.add_argument("--n", type=int_in(1, 3))
        p.parse_args(["--n", "2"]).n == 2
    """

    def error(self, message):  # argparse would print and exit; the shell must keep working
        raise UsageError(option_message(self, message)) from None

    def exit(self, status=0, message=None):  # after --help
        raise HelpShown()


@dataclass
class Demo:
    """A ``%tr_step NAME [options]`` demo: argparse options and its code template.

    ``arguments``: ``[(flags, add_argument kwargs), ...]``; ``python(args)`` returns the code as text, after
    ``import torch, tr_widgets``. Its last line is an expression: a widget, or a trace that is then shown.

    Example::

        Demo("uniform attention over n tokens", [(("--n",), dict(type=int, default=3, help="tokens"))],
             lambda a: f"tr_widgets.trace_attention(*torch.ones(3, 1, 1, {a.n}, 2).unbind(0))")
    """

    summary: str
    arguments: list
    python: Callable

    def parser(self, name: str) -> argparse.ArgumentParser:
        """The demo's option parser (errors are one-line UsageErrors)."""
        p = Parser(prog=f"%tr_step {name}", description=self.summary, add_help=True)
        for flags, kwargs in self.arguments:
            p.add_argument(*flags, **kwargs)
        return p

    def run(self, args):
        """Execute the template for ``args``; an engine error (TraceInputError, MemoryBudgetError) becomes a
        one-line UsageError with the same message. The template's ``torch.manual_seed`` acts on a fork of the
        random state, so the user's own random stream is left as it was."""
        import torch

        import tr_widgets
        from ..widgets import show, stepper_class

        *body, last = self.python(args).strip().splitlines()
        ns = {"torch": torch, "tr_widgets": tr_widgets}
        problem = None
        try:
            with torch.random.fork_rng(devices=[]):
                exec(compile("\n".join(body), "<%tr_step demo>", "exec"), ns)
                made = eval(compile(last, "<%tr_step demo>", "eval"), ns)
                return show(made) if stepper_class(made) is not None else made
        except TraceInputError as e:
            problem = one_line(e)  # raised below, outside the handler: no chained traceback
        raise UsageError(problem)


DEMOS: dict[str, Demo] = {}


def register_demo(name: str, demo: Demo) -> None:
    """Add a demo under ``name`` (a Python identifier).

    Example: ``register_demo("ones", Demo("ones", [], lambda a: "torch.ones(2)")); DEMOS.pop("ones").summary == "ones"``
    """
    if not (isinstance(name, str) and name.isidentifier() and not keyword.iskeyword(name)):
        raise ValueError(f"name: expected a Python identifier, got {name!r}. Fix: pass e.g. 'decode'")
    if not isinstance(demo, Demo):
        raise ValueError(f"demo: expected a tr_widgets.magic.Demo, got {type(demo).__name__}. "
                         "Fix: wrap it in Demo(...)")
    DEMOS[name] = demo


# -- option errors: one line with the option, what was expected, what came and the fix -------
def _example(parser: argparse.ArgumentParser, opt: str) -> str:
    """``--hidden 10``: the option with its default (or first choice), as one would type it."""
    action = next((a for a in parser._actions if opt in a.option_strings), None)
    if action is None:
        return f"{parser.prog} --help"
    if action.nargs == 0:
        return opt
    value = action.choices[0] if action.choices else action.default
    text = str(value if not isinstance(value, list) else " ".join(map(str, value)))
    return f'{opt} "{text}"' if (" " in text or not text) else f"{opt} {text}"


def option_message(parser: argparse.ArgumentParser, message: str) -> str:
    """argparse's complaint as one line: ``%tr_step lstm: --hidden: expected ..., got .... Fix: ...``.

    Example::

        text = option_message(DEMOS["lstm"].parser("lstm"), "argument --hidden: expected one argument")
        text.startswith("%tr_step lstm: --hidden: expected one value after --hidden, got none") == True
    """
    prog, see = parser.prog, f"see {parser.prog} --help for the options"
    m = re.fullmatch(r"unrecognized arguments: (.*)", message)
    if m:
        known = ", ".join(o for a in parser._actions for o in a.option_strings if o.startswith("--"))
        return one_line(f"{prog}: options: expected only {known}, got unrecognized arguments: {m[1]}. Fix: {see}")
    m = re.fullmatch(r"argument ([^:]+): (.*)", message)
    if not m:
        return one_line(f"{prog}: options: expected the options of {prog}, got an error: {message}. Fix: {see}")
    opt, msg = m[1].split("/")[-1], m[2]
    fix = f"pass e.g. {_example(parser, opt)}"
    for pattern, template in (
            (r"(expected .*, got .*)", "{0}"),
            (r"invalid choice: (.*) \(choose from (.*)\)", "expected one of {1}, got {0}"),
            (r"expected one argument", "expected one value after {opt}, got none"),
            (r"invalid (\w+) value: (.*)", "expected a value of type {0}, got {1}"),
            (r"ignored explicit argument (.*)", "expected no value ({opt} is a switch), got {0}")):
        hit = re.fullmatch(pattern, msg)
        if hit:
            return one_line(f"{prog}: {opt}: {template.format(*hit.groups(), opt=opt)}. Fix: {fix}")
    return one_line(f"{prog}: {opt}: expected a valid value, got an error: {msg}. Fix: {fix}")


# -- option types: one clear line when a value is wrong --------------------------------------
def int_in(lo: int, hi: int):
    """An argparse type: an int in [lo, hi].

    Example: ``int_in(1, 4)("3") == 3``
    """
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer in [{lo}, {hi}], got {text!r}") from None
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"expected an integer in [{lo}, {hi}], got {v}")
        return v
    return parse


def _is_float(p: str) -> bool:
    try:
        float(p)
        return True
    except ValueError:
        return False


def numbers(text: str) -> list[float]:
    """An argparse type: 1 to 512 numbers separated by spaces or commas.

    Example: ``numbers("1, 2  -3.5") == [1.0, 2.0, -3.5]``
    """
    parts = [p for p in re.split(r"[\s,]+", text.strip()) if p]
    bad = next((p for p in parts if not _is_float(p)), None)
    if bad is not None:
        raise argparse.ArgumentTypeError(f"expected numbers separated by spaces or commas, got {bad!r}")
    if not 1 <= len(parts) <= 512:
        raise argparse.ArgumentTypeError(f"expected 1 to 512 numbers, got {len(parts)}")
    return [float(p) for p in parts]


def words(text: str) -> list[str]:
    """An argparse type: 1 to 64 words.

    Example: ``words(" the cat  sat ") == ["the", "cat", "sat"]``
    """
    toks = text.split()
    if not 1 <= len(toks) <= 64:
        raise argparse.ArgumentTypeError(f"expected 1 to 64 words, got {len(toks)}")
    return toks


# -- the built-in demos ----------------------------------------------------------------------
SEED = (("--seed",), dict(type=int_in(0, 2**31 - 1), default=0, help="torch.manual_seed for the weights"))
SEQ_ARGS = [
    (("--input",), dict(type=numbers, default="1 2 3 4 5", help="the sequence, one number per step (input size 1)")),
    (("--hidden",), dict(type=int_in(1, 256), default=10, help="hidden size (1..256)")),
    (("--layers",), dict(type=int_in(1, 4), default=1, help="stacked layers (1..4)")),
    (("--bidirectional",), dict(action="store_true", help="also run the sequence backwards")),
    (("--backward",), dict(action="store_true", help="run the clock backwards: dL/dh_t at every step (BPTT)")),
    SEED,
]


def number_code(v: float) -> str:
    """``v`` as Python source: ``1.5``; ``float('nan')`` and ``float('-inf')`` where repr is not source.

    Example: ``eval(number_code(float("-inf"))) == float("-inf")``
    """
    return repr(float(v)) if math.isfinite(v) else f"float({str(float(v))!r})"


def recurrent_code(cls: str):
    """The template of the LSTM / GRU / RNN demos.

    Example::

        code = recurrent_code("GRU")(DEMOS["gru"].parser("gru").parse_args(["--hidden", "3"]))
        ("torch.nn.GRU(input_size=1, hidden_size=3" in code) == True
    """
    def python(a) -> str:
        extra = f", nonlinearity={a.nonlinearity!r}" if cls == "RNN" else ""
        nums = ", ".join(number_code(v) for v in a.input)
        return (f"torch.manual_seed({a.seed})\n"
                f"module = torch.nn.{cls}(input_size=1, hidden_size={a.hidden}, num_layers={a.layers}, "
                f"bidirectional={a.bidirectional}{extra})\n"
                f"x = torch.tensor([{nums}]).view(-1, 1, 1)   # [T, batch=1, features=1]\n"
                + (f"loss_fn = {GRAD_LOSS}   # {GRAD_LOSS_WHAT}\n"
                   "tr_widgets.show(tr_widgets.trace_gradients(module, x, loss_fn))" if a.backward else
                   f"tr_widgets.show(tr_widgets.trace_recurrent(module, x, name={cls.lower()!r}))"))
    return python


# The loss of ``--backward`` and of ``%tr_step grad`` when none is given.
GRAD_LOSS = "lambda out: out[0][-1].pow(2).sum()"
GRAD_LOSS_WHAT = "L = ‖output at the last step‖²: the gradient flows back from there"


def attention_code(a) -> str:
    """The template of the attention demo.

    Example::

        code = attention_code(DEMOS["attention"].parser("attention").parse_args(["--tokens", "a b"]))
        ("tokens = 'a b'.split()" in code) == True
    """
    return (f"torch.manual_seed({a.seed})\n"
            f"tokens = {' '.join(a.tokens)!r}.split()\n"
            f"q, k, v = torch.randn(3, 1, {a.heads}, len(tokens), {a.dim}).unbind(0)   # [batch=1, heads, T, dim]\n"
            f"tr_widgets.show(tr_widgets.trace_attention(q, k, v, is_causal={a.causal}, tokens=tokens, "
            "name='attention'))")


def decode_code(a) -> str:
    """The template of the decode demo.

    Example: ``("use_cache=False" in decode_code(DEMOS["decode"].parser("decode").parse_args(["--no-cache"]))) == True``
    """
    extra = ("" if not a.no_cache else ", use_cache=False") + (f", sample=True, seed={a.seed}" if a.sample else "")
    return ("model, tok = tr_widgets.load_tiny()\n"
            f"trace = tr_widgets.decode(model, {a.prompt!r}, {a.new_tokens}, tokenizer=tok{extra})\n"
            "tr_widgets.show(trace)")


for _cls, _what in (("LSTM", "an LSTM: gates i, f, g, o, cell state and hidden state at every step"),
                    ("GRU", "a GRU: gates r, z, candidate n and hidden state at every step"),
                    ("RNN", "an Elman RNN: h_t = tanh(W_ih x_t + b_ih + W_hh h_(t-1) + b_hh) at every step")):
    _args = list(SEQ_ARGS) + ([(("--nonlinearity",), dict(choices=["tanh", "relu"], default="tanh",
                                                          help="tanh or relu"))] if _cls == "RNN" else [])
    register_demo(_cls.lower(), Demo(_what, _args, recurrent_code(_cls)))

register_demo("attention", Demo(
    "scaled dot-product attention over a few tokens, one query at a time (random q, k, v)",
    [(("--tokens",), dict(type=words, default="the cat sat on the mat", help="the words (1..64)")),
     (("--dim",), dict(type=int_in(1, 64), default=8, help="size of q, k and v per head (1..64)")),
     (("--heads",), dict(type=int_in(1, 8), default=1, help="heads (1..8)")),
     (("--causal",), dict(action="store_true", help="each query sees only itself and earlier tokens")),
     (("--seed",), dict(type=int_in(0, 2**31 - 1), default=0, help="torch.manual_seed for q, k, v"))],
    attention_code))

register_demo("decode", Demo(
    "the shipped tiny GPT continues a prompt one token per tick, its KV cache growing in view",
    [(("--prompt",), dict(default="The cat sat on the", help="the text to continue (words of the tiny model)")),
     (("--new-tokens",), dict(type=int_in(1, 32), default=5, help="tokens to generate, one per tick (1..32)")),
     (("--no-cache",), dict(action="store_true", help="recompute every position at every tick (no KV cache)")),
     (("--sample",), dict(action="store_true", help="draw each token from the probabilities, not the top one")),
     (("--seed",), dict(type=int_in(0, 2**31 - 1), default=0, help="the sampling seed (with --sample)"))],
    decode_code))
