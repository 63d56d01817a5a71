"""Traces as files: ``trace.save(path)`` and ``tr_widgets.load(path)``, safetensors plus JSON, no pickle.

A teacher traces on a GPU and hands the file to students who step on laptops without the model. The format
is in :mod:`.format`, the walk that turns a trace into JSON and tensors in :mod:`.codec`, and what each trace
class keeps (its inputs, or its materialised values where re-deriving needs the model's code) in
:mod:`.kinds`, the one table of classes. The engine's trace classes call :func:`save_trace` from their
``save`` method; modules are imported when first used, so the trace modules can import this package freely.
"""
from __future__ import annotations

import json
import pathlib

__all__ = ["load_trace", "save_trace"]


def save_trace(trace, path) -> pathlib.Path:
    """Write ``trace`` (any trace kind, or a capture) to ``path``; returns the path. The trace is unchanged.

    Example::

        import tempfile, pathlib
        path = pathlib.Path(tempfile.mkdtemp()) / "lstm.trace"
        save_trace(tr, path) == path          # what tr.save(path) does
        torch.equal(load_trace(path).x, tr.x) == True
    """
    from ..errors import describe, fail
    from .codec import Writer
    from .format import file_path, write
    from .kinds import TABLE, TRACE_TYPES

    p = file_path(path, "save(path)")
    if not isinstance(trace, TRACE_TYPES):
        fail("trace", f"one of {', '.join(t.__name__ for t in TRACE_TYPES)}", describe(trace),
             "save a trace made by tr_widgets (trace_recurrent, trace_attention, capture, ...)")
    w = Writer(TABLE)
    body = w.encode(trace)
    spec = getattr(trace, "kind", None)
    return write(p, {"kind": TABLE[type(trace)].name, "spec": spec if isinstance(spec, str) else None,
                     "body": body}, w.tensors)


def load_trace(path, device: str = "cpu"):
    """The trace (or capture) saved at ``path``, its tensors on ``device``; a stepper of it equals the original's.

    Example::

        import tempfile, pathlib
        path = tr.save(pathlib.Path(tempfile.mkdtemp()) / "lstm.trace")
        back = load_trace(path)       # tr_widgets.load(path)
        (repr(back) == repr(tr), torch.equal(back.gates()["f"], tr.gates()["f"])) == (True, True)
    """
    from .codec import decode
    from .format import device_name, file_path, not_ours, read_header, read_tensors
    from .kinds import BY_NAME

    p = file_path(path, "load(path)")
    meta = read_header(p)
    tensors = read_tensors(p, device_name(device))
    try:
        return decode(meta["body"], tensors, BY_NAME)
    except (KeyError, TypeError, IndexError, AttributeError, json.JSONDecodeError) as err:
        not_ours(p, f"whose header does not describe a trace ({type(err).__name__}: {err})")
