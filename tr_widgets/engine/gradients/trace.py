"""GradientTrace: ∂L/∂h_t (and ∂L/∂c_t) at every step of nn.RNN / nn.LSTM / nn.GRU, and why it changes.

Backpropagation through time: δs_{t-1} = (what L sees of s_{t-1} directly) + J_tᵀ δs_t, with s the state
(h; (h, c) for an LSTM) and J_t = ∂s_t/∂s_{t-1}. J_t is made of elementwise derivatives of torch's cell
equations that depend only on the forward trace, so they come for all steps at once (the kind's
``Backward.factors``, backward.py); build.py runs the sequential part. The trace derives, on request and
cached, what a stepper shows: one step's arriving gradient, local factor, what leaves, the gains.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

import torch

from ..errors import check_budget, fail
from ..files.saving import Saveable
from .backward import PROJ_EQUATION, Backward, backward_of, gate_blocks

if TYPE_CHECKING:
    from ..recurrent import CellKind, RecurrentTrace

@dataclass(eq=False, frozen=True)
class GradientStep:
    """One backward step of one layer, direction and batch item. ``dh_t`` = ``dh_direct`` (loss, h_n, layer
    above) + ``dh_from_next`` (sent by step t+1); ``dh_to_prev`` goes to δh_{t-1}. LSTM: ``dc_t`` =
    ``dc_via_c`` (f_{t+1} ⊙ δc_{t+1}; ∂L/∂c_n at the end) + ``dc_via_h``; ``dc_to_prev`` = f_t ⊙ δc_t.
    ``J`` = ∂s_t/∂s_{t-1} (built only when read: an [S, S] matrix); ``gain`` = ‖Jᵀ δs_t‖ / ‖δs_t‖ (see
    factor_norms).

    Example::

        st = trace_gradients(nn.LSTM(3, 4), torch.randn(6, 1, 3), lambda out: out[0][-1].sum()).step(2)
        st["f_t"], st["dc_to_prev"], st["gain"]; st.equations[0]
    """

    kind: str
    t: int
    layer: int
    direction: int
    batch: int
    tensors: dict[str, torch.Tensor]
    equations: list[str]
    jacobian: Callable[[], torch.Tensor] | None = field(default=None, repr=False)  # J, built on request

    def __getitem__(self, name: str) -> torch.Tensor:
        if name == "J" and self.jacobian is not None:
            return self.jacobian()
        return self.tensors[name]


@dataclass(eq=False, frozen=True)
class GradientTrace(Saveable):
    """What :func:`trace_gradients` returns: total ∂L/∂h_t at every step, as data. Steps are indexed
    by time position in both directions, as in the module's output.

    Example::

        g = tr_widgets.trace_gradients(nn.LSTM(3, 8), torch.randn(50, 1, 3), lambda out: out[0][-1].sum())
        g.norms()            # [50]: ‖∂L/∂h_t‖, shrinking away from the last step
        g.factor_norms()     # [50]: how much of the gradient each step passes back
        g.step(10)["f_t"]    # the forget gate that carries δc_10 to δc_9
    """

    kind: str  # the cell kind's name, as RecurrentTrace.kind; its spec is ``spec``, its gradient spec ``backward``
    num_layers: int
    num_directions: int
    hidden_size: int
    proj_size: int
    loss: torch.Tensor  # [] the scalar loss, detached
    output: tuple  # what the module returned, detached
    forward: RecurrentTrace  # the forward trace the backward pass was replayed from
    d_hidden: list  # [layer][direction] -> [T, B, Hout]: total ∂L/∂h_t
    d_cell: list | None  # [layer][direction] -> [T, B, H]: total ∂L/∂c_t (LSTM only)
    d_input: torch.Tensor  # ∂L/∂x in x's own layout
    d_hx: object  # ∂L/∂hx like hx: a tensor, or (∂L/∂h_0, ∂L/∂c_0) for an LSTM
    derived: dict = field(default_factory=dict, repr=False)  # lazily derived results, keyed by call

    def __len__(self) -> int:
        return self.forward.seq_len

    batch_size = property(lambda self: self.forward.batch_size)

    spec = property(lambda self: self.forward.spec)  # the CellKind (gates, equations, has_cell)

    @property
    def backward(self) -> Backward:
        """The kind's gradient spec (factors, equations, the local factor's name).

        Example: ``trace_gradients(nn.LSTM(3, 4), x, loss_fn).backward.factor == ("f", "f")``
        """
        return backward_of(self.spec)

    def __repr__(self) -> str:
        return (f"GradientTrace(kind={self.kind!r}, T={len(self)}, B={self.batch_size}, H={self.hidden_size}, "
                f"layers={self.num_layers}, directions={self.num_directions})")

    def _where(self, layer, direction) -> int:
        L, D = self.num_layers, self.num_directions
        if not (isinstance(layer, int) and -L <= layer < L):
            fail("layer", f"an int in [0, {L - 1}] (or -{L}..-1, counted from the top)", repr(layer),
                 "pick an existing layer")
        if not (isinstance(direction, int) and 0 <= direction < D):
            fail("direction", f"an int in [0, {D - 1}]", repr(direction),
                 "use 0 (forward) or 1 (reverse, bidirectional modules only)")
        return layer % L

    def _memo(self, key, make):
        return self.derived[key] if key in self.derived else self.derived.setdefault(key, make())

    def hidden(self, layer: int = -1, direction: int = 0) -> torch.Tensor:
        """Total ∂L/∂h_t at every step, ``[T, B, Hout]``: through every later step and the layers above.

        Example::

            trace_gradients(nn.GRU(3, 4, num_layers=2), x, loss_fn).hidden(layer=0).shape   # [T, B, 4]
        """
        return self.d_hidden[self._where(layer, direction)][direction]

    def cell(self, layer: int = -1, direction: int = 0) -> torch.Tensor:
        """Total ∂L/∂c_t of an LSTM, ``[T, B, H]``, including the path from c_t through h_t.

        Example::

            trace_gradients(nn.LSTM(3, 4), x, lambda out: out[1][1].sum()).cell()[-1]    # ones
        """
        if not self.spec.has_cell:
            fail("cell()", "an LSTM gradient trace (only LSTMs have a cell state)", f"a {self.kind!r} trace",
                 "use hidden() for the gradient of RNNs and GRUs")
        return self.d_cell[self._where(layer, direction)][direction]

    def inputs(self) -> torch.Tensor:
        """∂L/∂x, in x's own layout (batch_first and unbatched respected).

        Example::

            g.inputs().shape == x.shape     # True
        """
        return self.d_input

    def initial_state(self):
        """∂L/∂hx, shaped like hx: ∂L/∂h_0, or (∂L/∂h_0, ∂L/∂c_0) for an LSTM (hx=None means zeros).

        Example::

            dh0, dc0 = trace_gradients(nn.LSTM(3, 4), x, loss_fn).initial_state()
        """
        return self.d_hx

    def norms(self, layer: int = -1, direction: int = 0) -> torch.Tensor:
        """‖∂L/∂h_t‖ (Frobenius over batch and units) at every step, ``[T]``.

        Example::

            trace_gradients(nn.RNN(3, 4), torch.randn(9, 2, 3), loss_fn).norms().shape   # [9]
        """
        layer = self._where(layer, direction)
        return self._memo(("norms", layer, direction),
                          lambda: torch.linalg.vector_norm(self.d_hidden[layer][direction], dim=(1, 2)))

    def factors(self, layer: int = -1, direction: int = 0) -> dict[str, torch.Tensor]:
        """The elementwise local factor of every step, ``[T, B, H]``: LSTM ``f`` (∂c_t/∂c_{t-1} = f_t),
        GRU ``z`` (the leak h_{t-1} → h_t), RNN ``phi_prime`` (J_t = diag(φ'(a_t)) W_hh).

        Example::

            g.factors()["f"][t]      # the forget gate that carries δc_t back to δc_{t-1}
        """
        layer = self._where(layer, direction)
        name, key = self.backward.factor
        if key not in self.spec.gates:  # a derivative (RNN's φ'), derived once; a gate is the forward's own
            return {name: self._memo((name, layer, direction),
                                     lambda: self.backward.factors(self.forward, layer, direction, 0, len(self))[key])}
        return {name: self.forward.gates(layer, direction)[key]}

    def _carry(self, layer: int, direction: int, lo: int, hi: int, batch: slice = slice(None)):
        """Factors of steps lo..hi-1 and what those steps send towards t-1 (the spec's carry), batched."""
        fac = {k: v[:, batch] for k, v in self.backward.factors(self.forward, layer, direction, lo, hi).items()}
        dc = self.d_cell[layer][direction][lo:hi, batch] if self.spec.has_cell else None  # [n, b, H]
        dh = self.d_hidden[layer][direction][lo:hi, batch]  # [n, b, Hout]
        return fac, self.backward.carry(fac, self.forward.params[layer][direction], dh, dc)

    def factor_norms(self, layer: int = -1, direction: int = 0, path: str = "state") -> torch.Tensor:
        """How much of its gradient each step passes back, ``[T]``: ‖J_tᵀ δs_t‖ / ‖δs_t‖ (0 if δs_t = 0).

        δs_t: the gradient arriving at step t's state (LSTM: δh_t and δc_t less its part via h_t); J_tᵀ δs_t:
        what leaves towards t-1; Frobenius norms over batch and units. It is the factor the gradient
        actually experienced (> 1 grows, < 1 vanishes); J_t's spectral norm would only bound it, at an
        [H, H] SVD per step. ``path``: "state", "h" (the h part only), LSTM "c" (‖f_t ⊙ δc_t‖ / ‖δc_t‖).

        Example::

            g.factor_norms(path="c")    # LSTM: values near 1 keep the gradient alive through the cell
        """
        layer = self._where(layer, direction)
        paths = ("state", "h", "c") if self.spec.has_cell else ("state", "h")
        if path not in paths:
            fail("path", f"one of {paths} for a {self.kind!r} trace", repr(path), "use path='state'")

        def make():
            T, B, GH = len(self), self.batch_size, gate_blocks(self.spec) * self.hidden_size
            check_budget(f"factor_norms(layer={layer}, direction={direction})", (2, T, B, GH), self.loss.dtype,
                         f"step(t, layer={layer}, direction={direction})['gain'] for one step")
            _, sent = self._carry(layer, direction, 0, T)
            return self._gains(self.d_hidden[layer][direction], sent,
                               self.d_cell[layer][direction] if self.spec.has_cell else None, dim=(1, 2))
        return self._memo(("factor_norms", layer, direction), make)[path]

    @staticmethod
    def _gains(dh, sent: dict, dc, dim) -> dict[str, torch.Tensor]:
        norm = lambda v: torch.linalg.vector_norm(v, dim=dim)  # noqa: E731  (over batch and units)
        ratio = lambda a, b: torch.where(b > 0, a / torch.where(b > 0, b, 1), 0)  # noqa: E731  0: none arrived
        out = {"h": ratio(norm(sent["h"]), norm(dh))}
        if dc is None:
            return {**out, "state": out["h"]}
        arriving = torch.hypot(norm(dh), norm(dc - sent["c_via_h"]))  # ‖(δh_t, δc_t not via h_t)‖
        leaving = torch.hypot(norm(sent["h"]), norm(sent["c"]))
        return {**out, "state": ratio(leaving, arriving), "c": ratio(norm(sent["c"]), norm(dc))}

    def step(self, t: int, layer: int = -1, direction: int = 0, batch: int = 0) -> GradientStep:
        """One step of the backward pass: the gradient arriving at step t, its parts, the local factor
        (``f_t`` / ``z_t`` / ``phi_prime``, and the Jacobian ``J``) and what leaves towards t-1.

        Example::

            st = g.step(5, layer=0, direction=1)    # reverse direction: "towards t-1" is towards t+1
            st["dh_t"], st["dh_from_next"], st["dh_to_prev"], st["gain"]
        """
        layer, T, B = self._where(layer, direction), len(self), self.batch_size
        if not (isinstance(t, int) and -T <= t < T):
            fail("t", f"a step index in [0, {T - 1}] (or -{T}..-1, counted from the end)", repr(t),
                 "pick a step of the traced sequence")
        if not (isinstance(batch, int) and 0 <= batch < B):
            fail("batch", f"a batch index in [0, {B - 1}]", repr(batch), "pick an existing batch item")
        t, b, back = t % T, slice(batch, batch + 1), self.backward
        one = lambda v: v[0, 0]  # noqa: E731  [1, 1, S] -> [S]
        fac, sent = self._carry(layer, direction, t, t + 1, b)
        nxt = t - 1 if direction == 1 else t + 1  # the step that sent this one its recurrent gradient
        dh = self.d_hidden[layer][direction][t, batch]  # [Hout]
        came = one(self._carry(layer, direction, nxt, nxt + 1, b)[1]["h"]) if 0 <= nxt < T else 0 * dh
        ten = {"dh_t": dh, "dh_direct": dh - came, "dh_from_next": came, "dh_to_prev": one(sent["h"])}
        dc = self.d_cell[layer][direction][t:t + 1, b] if self.spec.has_cell else None  # [1, 1, H]
        if dc is not None:
            ten.update(dc_t=dc[0, 0], dc_via_c=one(dc - sent["c_via_h"]), dc_via_h=one(sent["c_via_h"]),
                       dc_to_prev=one(sent["c"]))
        fac = {k: one(v) for k, v in fac.items()}  # each [H] / [G*H]
        name, key = back.factor
        ten[name + "_t"] = fac[key]
        p = self.forward.params[layer][direction]
        ten["gain"] = self._gains(dh[None, None], sent, dc, dim=(0, 1, 2))["state"]  # []
        eqs = [PROJ_EQUATION] * bool(self.proj_size) + list(back.equations)
        return GradientStep(self.kind, t, layer, direction, batch, ten, eqs, lambda: back.jacobian(fac, p))
