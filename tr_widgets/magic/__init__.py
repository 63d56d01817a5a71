"""``%tr_step`` / ``%%tr_step``: one line to watch a model compute. Sugar for the public API.

``%load_ext tr_widgets`` registers the magic. Every form returns the widget (``w = %tr_step ...`` works) and
``%tr_step?`` shows, for each form, the Python it stands for. This package is the only one that imports
IPython. Demos live in ``demos`` (name -> :class:`Demo`, each one code template that it runs exactly);
:func:`register_demo` adds one and ``%tr_step?`` lists it from then on.
"""
from __future__ import annotations

import argparse
import contextlib
import difflib
import re
import shlex
import sys
import warnings

from torch import nn

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class

from ..engine.capture import SUPPORTED, Capture, CaptureWarning, capture
from ..engine.errors import describe, one_line
from ..engine.recurrent import CELLS, FULL
from ..engine.whatif.compare import Comparison
from ..i18n import msg, msg_or, on_language_change
from .cell_loops import run_watched
from .demos import DEMOS, GRAD_LOSS, Demo, HelpShown, Parser, register_demo as _register

__all__ = ["DEMOS", "Demo", "TrStepMagics", "load_ipython_extension", "register_demo", "run_demo", "view_of"]


def register_demo(name: str, demo: Demo) -> None:
    """Add ``%tr_step NAME``; ``%tr_step?`` documents it from then on.

    Example: ``register_demo("ones", Demo("uniform attention", [(("--n",), dict(type=int, default=3))],
    lambda a: f"tr_widgets.trace_attention(*torch.ones(3, 1, 1, {a.n}, 2).unbind(0))"))``
    """
    _register(name, demo)
    TrStepMagics.tr_step.__doc__ = _doc()


# -- showing what was recorded ---------------------------------------------------------------
@contextlib.contextmanager
def recording(scope: dict):
    """``capture(scope=scope)`` around the user's code, without its "nothing was recorded" warning: the magic
    then shows an earlier trace, or raises its own one-line UsageError that says so.

    Example::

        with recording({"lstm": lstm}) as rec:
            lstm(x)
        rec.names == ["lstm"]   # named as the scope names it
    """
    rec = capture(scope=scope)
    rec.__enter__()
    try:
        yield rec
    except BaseException:
        if not rec.__exit__(*sys.exc_info()):
            raise
    else:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="capture: nothing was recorded", category=CaptureWarning)
            rec.__exit__(None, None, None)


def view_of(rec: Capture, what: str, cell_loops=((), ())):
    """The stepper of the one trace ``rec`` holds, or a :class:`CaptureView` of several; ``cell_loops``: the
    (traces, skipped) of the loops a ``%%tr_step`` cell ran itself (``cell_loops.run_watched``), after the capture's.

    Example: ``view_of(rec, "the cell")  # a RecurrentStepper when the cell ran one nn.LSTM``
    """
    from ..widgets import CaptureView, show

    traces = [*rec.traces, *cell_loops[0]]
    if not traces:
        skipped = "; ".join(f"{n}: {why}" for n, why in [*rec.skipped, *cell_loops[1]])
        raise UsageError(one_line(
            f"%tr_step: {what}: expected code that runs one of the supported modules ({SUPPORTED}), got nothing "
            f"recorded: {what} ran none of them" + (f" (skipped {skipped})" if skipped else "")
            + ". Fix: run the model on its input there, e.g. %tr_step model(x)"))
    return show(traces[0][1]) if len(traces) == 1 else CaptureView(traces)  # several: choose among them


def run_demo(name: str, rest: str):
    """``%tr_step NAME REST``: parse the options, run the demo's code, return the widget it shows.

    Example::

        w = run_demo("lstm", "--hidden 3 --input '1 2'")
        w.trace.hidden_size == 3
    """
    demo = DEMOS[name]
    try:
        argv = shlex.split(rest)
    except ValueError as e:
        raise UsageError(one_line(f"%tr_step {name}: options: expected shell-style options, got {rest!r}, which "
                                  f"cannot be split ({e}). Fix: close the quotes, e.g. --input \"1 2 3\"")) from None
    parser = demo.parser(name)
    try:
        args = parser.parse_args(argv)
    except HelpShown:
        print("\nStands for:\n" + demo.python(parser.parse_args([])))  # argparse printed the options
        return None
    return demo.run(args)


@magics_class
class TrStepMagics(Magics):
    """Holds ``%tr_step`` / ``%%tr_step`` (registered by ``%load_ext tr_widgets``).

    Example::

        magics = TrStepMagics()   # IPython makes it with its shell: get_ipython().register_magics(TrStepMagics)
        ("tr_step" in magics.magics["line"] and "tr_step" in magics.magics["cell"]) == True
    """

    @line_cell_magic
    def tr_step(self, line: str, cell: str | None = None):
        if cell is not None:
            return self._cell(line, cell)
        line = line.strip()
        if not line:
            raise UsageError(f"%tr_step: line: expected a demo ({', '.join(sorted(DEMOS))}) or a Python expression, "
                             "got nothing. Fix: write e.g. %tr_step lstm, or see %tr_step? for every form")
        first, _, rest = line.partition(" ")
        if first in DEMOS:
            return run_demo(first, rest)
        if first == "grad" and "grad" not in self.shell.user_ns:
            return self._grad(rest)
        ns = self.shell.user_ns
        if first.isidentifier() and (re.match(r"--?[A-Za-z]", rest.lstrip()) or (not rest and first not in ns
                                                                       and first not in self.shell.user_global_ns)):
            close = difflib.get_close_matches(first, DEMOS, n=1)
            raise UsageError(one_line(
                f"%tr_step: demo: expected one of the demos {', '.join(sorted(DEMOS))} (or a Python expression to "
                f"run under capture), got unknown demo {first!r}. Fix: "
                + (f"did you mean %tr_step {close[0]}?" if close else "pick a demo, e.g. %tr_step lstm (see %tr_step?)")))
        return self._expr(line)

    def _grad(self, rest: str):
        """``%tr_step grad MODULE X [--hx HX] [--loss LOSS]``: the user's own recurrent module, run backwards."""
        try:
            argv = shlex.split(rest)
        except ValueError as e:
            raise UsageError(one_line(f"%tr_step grad: line: expected MODULE X [--loss LOSS], got {rest!r} ({e}). "
                                      "Fix: quote the loss, e.g. --loss \"lambda out: out[0].sum()\"")) from None
        parser = Parser(prog="%tr_step grad", description="dL/dh_t at every step of your recurrent module")
        parser.add_argument("module", help="an nn.RNN / nn.LSTM / nn.GRU in your namespace")
        parser.add_argument("x", help="its input sequence")
        parser.add_argument("--hx", default=None, help="its initial state (default zeros)")
        parser.add_argument("--loss", default=GRAD_LOSS, help="a function of what the module returns")
        try:
            a = parser.parse_args(argv)
        except HelpShown:
            return None
        code = grad_code(a.module, a.x, a.loss, a.hx)
        import tr_widgets

        ns = {**self.shell.user_ns, "tr_widgets": tr_widgets}  # the user's names, not changed
        problem = None
        try:
            return eval(compile(code, "<%tr_step grad>", "eval"), self.shell.user_global_ns, ns)
        except tr_widgets.TraceInputError as e:
            problem = one_line(e)
        raise UsageError(problem)

    def _expr(self, expr: str):
        try:
            code = compile(expr, "<%tr_step>", "eval")
        except SyntaxError as e:
            raise UsageError(one_line(
                f"%tr_step: line: expected a demo ({', '.join(sorted(DEMOS))}) or a Python expression, got {expr!r}: "
                f"neither a demo nor a Python expression ({e.msg}). Fix: correct the expression, or pick a demo"
            )) from None
        with recording(self.shell.user_ns) as rec:
            value = eval(code, self.shell.user_global_ns, self.shell.user_ns)  # errors are the user's own
        from ..widgets import show, stepper_class

        if isinstance(value, Comparison):  # what_if(...) / compare(...): the two runs it made, not what rec saw
            return show(value)
        if not len(rec) and isinstance(value, Capture):
            return view_of(value, expr)  # %tr_step rec: a capture made earlier
        if not len(rec) and stepper_class(value) is not None:
            return show(value)  # %tr_step tr: a trace of any kind made earlier
        if not len(rec) and callable(value) and not isinstance(value, type):
            raise UsageError(forgot_the_call(expr, value))  # %tr_step model: nothing ran
        return view_of(rec, repr(expr))

    def _cell(self, line: str, cell: str):
        if line.strip():
            raise UsageError(one_line(f"%%tr_step: options: expected none (the code goes in the cell), got "
                                      f"{line.strip()!r}. Fix: move it into the cell; %tr_step NAME takes options"))
        source = self.shell.transform_cell(cell)
        code = compile(source, "<%%tr_step>", "exec")
        with recording(self.shell.user_ns) as rec:  # a loop in the cell itself is watched too (cell_loops)
            found = run_watched(source, code, self.shell.user_global_ns, self.shell.user_ns)
        return view_of(rec, "the cell", found)


def _path(expr: str, name: str) -> str:
    """``model`` + ``layers.0.self_attn`` -> ``model.layers[0].self_attn`` (how one would write it)."""
    return expr + "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in name.split(".") if p)


def forgot_the_call(expr: str, value) -> str:
    """The message for ``%tr_step model``: a module or function named, not called, so nothing ran.

    Example::

        text = forgot_the_call("lstm", lstm)
        ("did you mean `%tr_step lstm(x)`?" in text) == True
    """
    if isinstance(value, nn.Module):
        held = [f"{_path(expr, name)} (nn.{type(m).__name__})" for name, m in value.named_modules()
                if isinstance(m, FULL + CELLS + (nn.MultiheadAttention,))]
        holds = (f"; {expr} holds " + ", ".join(held[:3]) + (f" and {len(held) - 3} more" if len(held) > 3 else "")
                 if held else "")
        got, call = f"the module itself ({describe(value)}), which ran nothing{holds}", f"{expr}(x)"
    else:
        got, call = f"{describe(value)}, which was not called", f"{expr}(...)"
    return one_line(f"%tr_step: {expr}: expected a call that runs the model, e.g. %tr_step {call}, got {got}. "
                    f"Fix: did you mean `%tr_step {call}`? (x: its input)")


def grad_code(module: str, x: str, loss: str = GRAD_LOSS, hx: str | None = None) -> str:
    """What ``%tr_step grad MODULE X`` runs, in your namespace. Example: ``grad_code("lstm", "x")``"""
    return f"tr_widgets.show(tr_widgets.trace_gradients({module}, {x}, {loss}{'' if hx is None else f', hx={hx}'}))"


def _doc() -> str:
    """The help of ``%tr_step?`` in the language ``tr_widgets.set_language`` chose (i18n "magic." keys)."""
    demo_docs = []
    for name in sorted(DEMOS):
        demo = DEMOS[name]
        p = demo.parser(name)
        opts = "\n".join(f"      {', '.join(a.option_strings):16} {msg_or('magic.option.' + a.option_strings[-1], a.help)}"
                         + (f" ({msg('magic.default', value=a.default)})"
                            if a.default is not None and a.default is not False and a.default != argparse.SUPPRESS
                            else "")
                         for a in p._actions if a.option_strings and a.dest != "help")
        code = "\n".join("        " + ln for ln in demo.python(p.parse_args([])).splitlines())
        demo_docs.append(f"  %tr_step {name} [options]\n      {msg_or('magic.demo.' + name, demo.summary)}\n{opts}\n"
                         f"    {msg('magic.stands_for')}\n{code}")
    return msg("magic.help", demo_names=", ".join(sorted(DEMOS)), demo_docs="\n".join(demo_docs),
               supported=SUPPORTED, grad_loss=GRAD_LOSS, grad_code=grad_code("MODULE", "X", "LOSS"))


def _follow_language(lang: str) -> None:
    TrStepMagics.tr_step.__doc__ = _doc()


TrStepMagics.tr_step.__doc__ = _doc()
on_language_change(_follow_language)  # %tr_step? speaks the chosen language


def load_ipython_extension(ip) -> None:
    """``%load_ext tr_widgets`` (through ``tr_widgets.load_ipython_extension``) registers the magics.

    Example::

        from unittest import mock
        ip = mock.Mock()   # in a notebook: get_ipython()
        load_ipython_extension(ip); ip.register_magics.assert_called_once_with(TrStepMagics)
    """
    ip.register_magics(TrStepMagics)
