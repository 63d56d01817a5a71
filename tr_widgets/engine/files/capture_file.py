"""SavedCapture: a capture read back from a file, its traces by name, without the model that made them.

It is a :class:`~tr_widgets.engine.capture.Capture` (so ``show`` gives the same CaptureView, and ``rec[name]``,
``rec.names``, ``rec.traces`` read the same), holding its traces as a list instead of a live recorder.
"""
from __future__ import annotations

from ..capture import Capture
from ..errors import fail


class SavedCapture(Capture):
    """What :func:`tr_widgets.load` returns for a saved capture: ``(name, trace)`` pairs and what was skipped.

    Example::

        with tr_widgets.capture(lstm) as rec:
            lstm(x)
        saved = SavedCapture(rec.traces, rec.skipped)
        (saved.names, saved["LSTM"] is rec["LSTM"]) == (["LSTM"], True)
    """

    def __init__(self, traces, skipped=()):  # no recorder: nothing runs, the traces are already made
        self.model, self.scope = None, None
        self._traces = [(str(n), tr) for n, tr in traces]
        self._skipped = [(str(n), str(why)) for n, why in skipped]
        self._used = True  # a `with` block would record nothing: Capture.__enter__ says so

    @property
    def traces(self) -> list:
        """``[(name, trace), ...]`` in the order they were recorded. Example: ``saved.traces[0][0]``"""
        return list(self._traces)

    @property
    def skipped(self) -> list[tuple[str, str]]:
        """What the original capture could not trace, as it said then. Example: ``saved.skipped``"""
        return list(self._skipped)

    @property
    def nbytes(self) -> int:
        """Bytes of the tensors the loaded traces hold (each a copy of its own). Example: ``saved.nbytes``"""
        from .codec import Writer  # noqa: PLC0415 - kinds imports this module
        from .kinds import TABLE  # noqa: PLC0415

        w = Writer(TABLE)
        w.encode(self)
        return sum(t.nbytes for t in w.tensors.values())

    def drain(self) -> list:
        fail("drain()", "a live capture (decode drains one as it runs)", "a capture loaded from a file",
             "use saved.traces")

    def __repr__(self) -> str:
        items = self._traces
        head = f"SavedCapture({len(items)} trace{'s' if len(items) != 1 else ''}"
        head += f", {len(self._skipped)} skipped)" if self._skipped else ")"
        return "\n".join([head] + [f"  {n}: {tr!r}" for n, tr in items])
