"""The ``save`` method every trace class has, as a mixin base (the trace modules stay as they are otherwise).

It imports the file machinery only when called: :mod:`.kinds` imports every trace class, so a trace module
importing it at load time would be a cycle.
"""
from __future__ import annotations


class Saveable:
    """Gives a trace ``save(path)``: one safetensors file (tensors + JSON header, no pickle).

    Example::

        import tempfile, pathlib
        path = tr.save(pathlib.Path(tempfile.mkdtemp()) / "lstm.trace")     # tr: a RecurrentTrace, a Saveable
        repr(tr_widgets.load(path)) == repr(tr)
    """

    __slots__ = ()

    def save(self, path):
        """Write this trace to ``path``; ``tr_widgets.load(path)`` reads it back, on any machine, without the
        model. Returns the path.

        Example: ``tr.save("lstm.trace"); tr_widgets.load("lstm.trace").step(2)["h_t"]``
        """
        from . import save_trace  # noqa: PLC0415 - see the module docstring

        return save_trace(self, path)
