"""The trace of an edited recurrent call (``AfterTrace``): what the edited run really computed, derived when read.

A RecurrentTrace replays its gates, and an LSTM's c_t, from x_t and h_{t-1} (the fused kernel returns neither).
At an edited step that replay cannot know a gate that was forced, nor a c_t that was written, so the edited
forward hands them over (``forced`` {t: {gate: [B, H]}}, ``fixed_cells`` {t: c_t [B, H]}) and this trace puts
them in when ``gates()`` / ``cell()`` are first asked for, as any trace derives its stages on first access.
Until then finishing costs nothing: an edited run costs its restart, not a replay of all T steps (issue 24).

Saved, it is written as the RecurrentTrace it stands for, its cell states made whole (so a file holds the c_t
the run carried); a file has no place for a forced gate, so saving one warns that the loaded trace shows the
replayed gate at that step.
"""
from __future__ import annotations

import dataclasses
import warnings
from dataclasses import field

import torch

from ..files.kinds import TABLE, FileKind
from ..recurrent import RecurrentTrace
from ..recurrent.scan import linear_scan
from .forced import forced_outputs

_PLAIN = [f.name for f in dataclasses.fields(RecurrentTrace) if f.name != "derived"]


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class AfterTrace(RecurrentTrace):
    """A one-layer, one-direction RecurrentTrace of an edited run (made by ``recurrent.finish``).

    Example::

        wi = tr_widgets.what_if(lstm, lambda: lstm(x), Edit.gate("LSTM", "f", 2, 1.0))
        tr = wi.after["LSTM"]                                   # an AfterTrace: nothing replayed yet
        bool((tr.gates()["f"][2] == 1).all()) and torch.equal(tr.cell()[2], tr.fixed_cells[2])
    """

    compares_as = RecurrentTrace  # compare() pairs it with the before-run's trace (not a field: no annotation)
    fixed_cells: dict = field(default_factory=dict, repr=False)  # step -> the c_t carried out of it, [B, H]
    forced: dict = field(default_factory=dict, repr=False)  # step -> {gate: [B, H]} the gates the step used

    def gates(self, layer: int = 0, direction: int = 0) -> dict[str, torch.Tensor]:
        """As RecurrentTrace.gates, with the gates the run really used at each gate-edited step.

        Example: ``wi.after["LSTM"].gates()["f"][2]  # 1.0 where Edit.gate("LSTM", "f", 2, 1.0) forced it``
        """
        replayed = super().gates(layer, direction)
        if not self.forced or (layer, direction) != (0, 0):
            return replayed
        key = ("forced gates", layer, direction)
        if key not in self.derived:
            parts = {name: g.clone() for name, g in replayed.items()}  # [T, B, H] each
            for t, seen in self.forced.items():
                for name in parts:
                    parts[name][t] = seen[name]
            self.derived[key] = parts
        return self.derived[key]

    def step(self, t: int, layer: int = 0, direction: int = 0, batch: int = 0):
        """As RecurrentTrace.step, at a gate-edited step with the gates the run used, and what it computed from
        them (c_t, h_t): the step's equations show the numbers of the edited run, not of a replay without it.

        Example: ``wi.after["LSTM"].step(2)["f"]  # ones where Edit.gate("LSTM", "f", 2, 1.0) forced it``
        """
        st = super().step(t, layer, direction, batch)
        seen = self.forced.get(st.t) if (layer, direction) == (0, 0) else None
        if not seen:
            return st
        out = forced_outputs(self.spec, self.params[0][0], st["x_t"], st["h_prev"], st.tensors.get("c_prev"),
                             {name: v[batch] for name, v in seen.items()})
        return dataclasses.replace(st, tensors={**st.tensors, **out})

    def cell(self, layer: int = 0, direction: int = 0) -> torch.Tensor:
        """As RecurrentTrace.cell, with the c_t the run carried out of each edited step (and on from there).

        Example: ``float(wi.after["LSTM"].cell()[2].abs().sum()) == 0.0  # Edit.state("LSTM", 2, (None, 0.0))``
        """
        key = ("cell", layer, direction)
        if self.fixed_cells and self.cell_states is None and (layer, direction) == (0, 0) and \
                self.spec.has_cell and key not in self.derived:
            self.derived[key] = self._cells()
        return super().cell(layer, direction)

    def _cells(self) -> torch.Tensor:
        """c_t at every step: c_t = f_t c_{t-1} + i_t g_t between the edited steps, the carried c_t at them."""
        g, c, cs, a = self.gates(), self.c0[0], [], 0
        with torch.no_grad():
            for t in sorted(self.fixed_cells) + [self.seq_len]:
                if t > a:  # steps a..t-1 ran unedited
                    cs.append(linear_scan(g["f"][a:t], g["i"][a:t] * g["g"][a:t], c))  # [t - a, B, H]
                    c = cs[-1][-1]
                if t < self.seq_len:
                    c = self.fixed_cells[t]  # [B, H]
                    cs.append(c[None])
                a = t + 1
        return torch.cat(cs)  # [T, B, H]

    def plain(self) -> RecurrentTrace:
        """The RecurrentTrace this stands for, its cell states made whole (what a file holds).

        Example: ``torch.equal(wi.after["LSTM"].plain().cell_states, wi.after["LSTM"].cell())``
        """
        cells = self.cell() if self.fixed_cells and self.spec.has_cell else self.cell_states
        return RecurrentTrace(**{**{n: getattr(self, n) for n in _PLAIN}, "cell_states": cells})


def after_trace(trace: RecurrentTrace, fixed_cells: dict, forced: dict) -> RecurrentTrace:
    """``trace`` (the after-run's trace of an edited call) knowing what the run carried and used at the edited
    steps; ``trace`` itself when there is nothing to put in.

    Example: ``after_trace(tr, {}, {}) is tr``
    """
    if not fixed_cells and not forced:
        return trace
    return AfterTrace(**{n: getattr(trace, n) for n in _PLAIN}, fixed_cells=dict(fixed_cells), forced=dict(forced))


def _file_fields(tr: AfterTrace) -> dict:
    if tr.forced:
        warnings.warn(f"{tr.name!r}: the gates forced at steps {sorted(tr.forced)} are not kept in a trace file "
                      "(a file holds the gates a replay gives there); the cell states are. Fix: keep the what-if "
                      "in memory to see the forced gates", stacklevel=4)
    return TABLE[RecurrentTrace].fields(tr.plain())


# written as a RecurrentTrace, read back as one (a file names only the package's own trace classes)
TABLE[AfterTrace] = FileKind(AfterTrace, _file_fields, TABLE[RecurrentTrace].make, label="RecurrentTrace")
