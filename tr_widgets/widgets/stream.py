"""How a stepper's frames reach the browser: all at once within the budget, else chunks around the step.

Chunks refer to large values the browser already holds by their hash (``frames.pack(known=...)``):
a chunk inside the weights window carries the window once per page, not once per chunk. The clock's
``frames`` trait is always self-contained (a page that loads later decodes it first); when a page
misses a referenced value it asks again and the kernel resends from that base.
"""
from __future__ import annotations

import html
import math
import time
from collections import OrderedDict

from ..i18n import language, msg
from . import frames
from .filling import later, running_loop
from .frontend import frontend_seen


CHUNK_SECONDS = 0.03  # about how long drawing one chunk may keep the loop (with packing, one callback ≤ ~50 ms)
PLAY_AHEAD_S = 0.6  # while playing in chunks mode, how much play the page holds ahead of the step
RECORDED_MAX = 256  # recorded frames kept in the kernel, so following a browser step needs no redraw


class FrameStreaming:
    """Mixin of :class:`~tr_widgets.widgets.base.Stepper`: records frames, sends them, exports pages.

    Needs ``self.controller``, ``self.lang``, ``self._targets``, ``self._layout``, ``self._budget``, ``self.step``
    and ``self._draw(step, new_selection)``, a pure function of the step and the selection.

    Example::

        s = tr_widgets.show(tr)                  # every Stepper is a FrameStreaming
        ("tr-export" in s.export_html()) == True   # the page that steps without a kernel
    """

    _recorded: OrderedDict

    def _quiet(self, on: bool) -> None:
        for tw in self._targets:
            tw.quiet_sync = on

    def _record(self, steps) -> list:
        """The frame of each step in ``steps``, drawn quietly; the panels end at the current step."""
        self._quiet(True)
        try:
            out = []
            for s in steps:
                self._draw(s, new_selection=False)
                out.append(frames.state_of(self._targets))
                self._recorded[s] = out[-1]
                self._recorded.move_to_end(s)
            while len(self._recorded) > RECORDED_MAX:
                self._recorded.popitem(last=False)
            here = self._recorded.get(self.step)
            self._set_state(here) if here is not None else self._draw(self.step, new_selection=False)
            self._draws = len(out) + (here is None)  # drawings done: the frames', and the step's when not one of them
        finally:
            self._quiet(False)
        return out

    def _set_state(self, state: list[dict]) -> None:
        """Set the panels to a recorded frame; what ``_update`` remembers of its last drawing is dropped."""
        for tw, values in zip(self._targets, state):
            for k, v in values.items():
                if getattr(tw, k) != v:
                    setattr(tw, k, v)
        self._drawn_elsewhere()

    def _drawn_elsewhere(self) -> None:
        """The panels were set from a frame, not by ``_update``: steppers drop caches of their last
        drawing here (the shown window), so the next ``_update`` redraws what it must."""
        self._win = None

    def follow(self, s: int) -> None:
        """Bring the panels' traits to step ``s`` quietly (the browser applies the frame itself): from
        the recorded frame when there is one (no redraw), else by drawing it."""
        state = self._recorded.get(s) if self._mode != "kernel" else None
        self._quiet(self._mode != "kernel")
        try:
            self._draw(s, new_selection=False) if state is None else self._set_state(state)
        finally:
            self._quiet(False)

    def redraw(self) -> None:
        """Draw the current step again, quietly: the same values (a function of the step and the selection), and
        every panel holds the Looks of what it shows again (a frame sets values alone). ``save()`` calls it."""
        self._quiet(True)
        try:
            self._draw(self.step, new_selection=False)
        finally:
            self._quiet(False)

    def _fits(self, n: int) -> tuple[bytes | None, int]:
        """(every frame packed, or None over the budget; the size an export would need, -1 if unknown)."""
        here = frames.state_of(self._targets)
        t0 = time.perf_counter()
        other = self._record([min(self.step + 1, n - 1)])[0] if n > 1 else here
        self._frame_s = (time.perf_counter() - t0) / 2  # one drawing for the frame, one for the step
        one = len(frames.pack([here], 0, 0))
        per_frame = max(len(frames.pack([here, other], 0, 0)) - one, 1)  # one more step, compressed
        self._size_chunks(8, frames.CHUNK_BYTES // per_frame)  # the first; adapted as chunks are sent
        if not self._budget or n > frames.MAX_FULL:
            return None, -1
        estimate = one + n * per_frame
        if estimate * 4 // 3 + frames.js_bytes() > self._budget * 1.25:
            return None, estimate * 4 // 3 + frames.js_bytes()
        payload = frames.pack(self._record(range(n)), 0, self._gen)
        size = frames.embedded_size(payload)
        return (payload if size <= self._budget else None), size

    def _make_frames(self) -> None:
        """All frames when they fit the budget; else the chunks around the step (a jump streams)."""
        n, self._payload, self._have = self.controller.n_steps, None, set()
        self._recorded.clear()  # a new selection: other frames
        self._gen += 1
        payload, self._size_hint = self._fits(n)
        clock = self.controller.clock
        with clock.hold_sync():
            clock.targets = [tw.model_id for tw in self._targets]
            if payload is not None:
                self._mode, self._payload = "browser", payload
                clock.frames = payload
            else:
                self._mode, self._base = "chunks", set()
                a, b = max(0, self.step - 1), min(n, self.step + 2)
                clock.frames = frames.pack(self._record(range(a, b)), a, self._gen, known=self._base)
                self._known = set(self._base)
                self._have.update(range(a, b))
            clock.frames_mode = True

    def _refresh_frames(self, target, keys, where=None) -> None:
        """``target``'s ``keys`` changed between steps (an overview filling in): every recorded frame takes
        the new values (nothing is redrawn; only the frames ``where(frame)`` holds for, when given: a filled
        weights window's, not another window's), and in chunks mode the page gets the frames around the step
        again as a new generation (it drops the older chunks, and with them frames not recorded here any more,
        which the page asks for again). In browser mode every frame is recorded again."""
        if self._mode != "chunks":
            self._make_frames()
            return
        t, new = self._targets.index(target), {k: getattr(target, k) for k in keys}
        for state in self._recorded.values():
            if where is None or where(state):
                state[t] = {**state[t], **new}
        n, self._have, self._base, s = self.controller.n_steps, set(), set(), self.step
        self._gen += 1
        a, b = s, s + 1  # the step's frame, and its neighbours already recorded (none drawn but the step's)
        a, b = (a - 1 if a - 1 >= 0 and a - 1 in self._recorded else a), (b + 1 if b < n and b in self._recorded else b)
        self.controller.clock.frames = frames.pack(self._frames_of(range(a, b)), a, self._gen, known=self._base)
        self._known = set(self._base)
        self._have.update(range(a, b))
        loop = running_loop()
        for t in (s - 1, s + 1):  # a neighbour not recorded: on later turns of the loop, as after a jump (next first)
            if 0 <= t < n and t not in self._have and loop is not None:
                later(loop, self._send_neighbour, s, t, first=True)

    def _frames_of(self, steps) -> list:
        """The frames of ``steps``: the recorded ones as they are, else all drawn again."""
        if all(s in self._recorded for s in steps):
            return [self._recorded[s] for s in steps]
        return self._record(steps)

    def _send_chunk(self, a: int, b: int, keep_end: bool = False) -> None:
        """Send frames ``a .. b-1`` as one message of at most ``frames.MSG_MAX`` bytes: halved until it
        fits, keeping the half nearest the step (the start; the end when ``keep_end``)."""
        a, b = max(0, a), min(self.controller.n_steps, b)
        if all(s in self._recorded for s in range(a, b)):  # sent before to a page that dropped them
            chunk = self._frames_of(range(a, b))
        else:
            t0 = time.perf_counter()
            chunk = self._record(range(a, b))
            # per drawing (the frames', and the step's when it was drawn again); averaged with the last reading, so
            # one slow chunk (a pause of the collector) does not shrink the chunks to one frame; a frame alone (a
            # jump, a jump's neighbour) is a new region's cost: taken as it is, so the chunks after a jump to the
            # end rows of a long trace (a row of 131,072 keys a frame) are sized for those frames, not the first
            now = (time.perf_counter() - t0) / max(self._draws, 1)
            self._frame_s = now if b - a == 1 else (getattr(self, "_frame_s", now) + now) / 2
        while True:
            known = set(self._known)
            payload = frames.pack(chunk, a, self._gen, known=known)
            if len(payload) <= frames.MSG_MAX or len(chunk) == 1:
                break
            half = len(chunk) // 2
            chunk, a = (chunk[half:], a + half) if keep_end else (chunk[:half], a)
        b = a + len(chunk)
        self._known = known
        self.controller.clock.send({"frames": [a, b]}, buffers=[payload])
        self._have.update(range(a, b))
        # from what the last one weighed (a frame alone, after a jump, weighs more than one among others: its
        # bytes leave the size by bytes as it was), and from the frame time just read, so the chunk after a
        # jump to a costlier region (the end rows of a long trace) is sized for its frames, not the first ones
        self._size_chunks(32, frames.CHUNK_BYTES * (b - a) // max(len(payload), 1) if b - a > 1 else self._by_bytes)

    def _size_chunks(self, most: int, by_bytes: int) -> None:
        """Frames per chunk: about CHUNK_BYTES (``by_bytes`` frames) and drawn within about CHUNK_SECONDS
        (``self._frame_s`` a frame), from 2 to ``most``; from 1 only when a frame takes more than half of
        CHUNK_SECONDS (at 128k tokens a frame scores a whole row). A large frame alone (a moved window) keeps 2:
        one frame a chunk would cost a message on every step."""
        by_time = int(CHUNK_SECONDS / max(self._frame_s, 1e-6))
        self._by_bytes = by_bytes
        self._chunk = max(1 if by_time < 2 else 2, min(most, by_bytes, by_time))

    def _prefetch(self, s: int) -> None:
        """Chunks mode: after a jump, the frame of ``s`` now, then its neighbours (next and previous are
        instant), each on a later turn of a running loop (one frame per callback: no callback of the loop takes
        much more than a frame, ~25 ms at T=131,072). Else the page holds frame ``s`` already and what lies
        ahead is drawn on the next turn of the loop (``_prefetch_ahead``), not in the step's handler."""
        n, have, loop = self.controller.n_steps, self._have, running_loop()
        if s not in have:  # a jump: this frame at once, then its neighbours
            self._send_chunk(s, s + 1)
            for t in (s - 1, s + 1):  # each queued first: the next step's frame goes out first
                if 0 <= t < n and t not in have:
                    self._send_chunk(t, t + 1) if loop is None else later(loop, self._send_neighbour, s, t, first=True)
            return
        self._prefetch_ahead(s) if loop is None else later(loop, self._prefetch_ahead, s, True, first=True)

    def _prefetch_ahead(self, s: int, queued: bool = False) -> None:
        """While paused, at most one chunk per step change, when a step within half a chunk is missing;
        while playing, chunks (for at most about ``CHUNK_SECONDS``) until the next ``PLAY_AHEAD_S`` of play
        are in the page: the page plays from what it holds, and a step's message and the chunk's answer each
        cross the stock server's ~40 ms Nagle delay. ``queued`` (a loop callback): nothing once the user moved on
        (that step's own callback follows)."""
        if queued and (self.step != s or self._mode != "chunks" or self.controller.clock.comm is None):
            return
        if self.controller.playing:
            reach = max(self._chunk * 3 // 2 + 1, math.ceil(PLAY_AHEAD_S * 1000 / max(self.controller.interval, 1)))
            t0 = time.perf_counter()
            while self._send_ahead(s, reach) and time.perf_counter() - t0 < CHUNK_SECONDS:
                pass
            return
        reach = self._chunk // 2 + 1
        if not self._send_ahead(s, reach):
            self._send_behind(s, reach)

    def _send_neighbour(self, s: int, t: int) -> None:
        """After a jump to ``s``, on a later turn of the loop: the frame of its neighbour ``t``, unless the
        user moved on (or the page holds it by now)."""
        if self.step == s and self._mode == "chunks" and t not in self._have and self.controller.clock.comm is not None:
            self._send_chunk(t, t + 1)

    def _on_playing(self, change) -> None:
        """Play pressed in chunks mode: the frames ahead go out now, before the page's first ticks."""
        if change["new"] and self._mode == "chunks":
            self._prefetch(self.step)

    def _send_ahead(self, s: int, reach: int) -> bool:
        """Send the first missing chunk within ``reach`` steps after ``s``; whether there was one."""
        n, have = self.controller.n_steps, self._have
        ahead = next((t for t in range(s + 1, min(n, s + reach + 1)) if t not in have), None)
        if ahead is None:
            return False
        end = next((t for t in range(ahead, min(n, ahead + self._chunk)) if t in have), ahead + self._chunk)
        self._send_chunk(ahead, end)
        return True

    def _send_behind(self, s: int, reach: int) -> None:
        """Send the last missing chunk within ``reach`` steps before ``s``, if any."""
        have = self._have
        behind = next((t for t in range(s - 1, max(-1, s - reach - 1), -1) if t not in have), None)
        if behind is not None:
            start = next((t + 1 for t in range(behind, max(-1, behind - self._chunk), -1) if t in have),
                         behind - self._chunk + 1)
            self._send_chunk(start, behind + 1, keep_end=True)

    def _on_clock_msg(self, widget, content, buffers) -> None:
        if isinstance(content, dict) and content.get("hello"):
            frontend_seen()
            return
        if isinstance(content, dict) and content.get("view") in (1, -1):  # a view shown, or removed (output cleared)
            self._views = max(0, self._views + content["view"])
            return self._on_views(self._views)
        want = content.get("want") if isinstance(content, dict) else None
        if isinstance(want, int) and 0 <= want < self.controller.n_steps:
            if self._mode == "browser":
                self.controller.clock.send({"frames": [0, self.controller.n_steps]}, buffers=[self._payload])
            else:  # the page lost its chunks (reloaded: it holds the trait's values) or its cache
                self._known = set() if content.get("lost") else set(self._base)
                self._send_chunk(want - 1, want + 2)

    @property
    def frames_mode(self) -> str:
        """Where steps are applied: "browser" (every frame sent once: steps need no kernel, exported
        pages step) or "chunks" (over the frame budget: frames around the step, pages stay static)."""
        return self._mode

    def export_html(self) -> str:
        """The text/html output: the snapshot, plus the player and frames when they fit the budget."""
        snap = self.snapshot_html()
        if self._mode == "browser":
            spec = {"layout": self._layout, "step": self.step, "n_steps": self.controller.n_steps,
                    "interval": self.controller.interval, "step_name": self.controller.clock.description,
                    "speeds": self.controller.clock.speeds, "texts": self.controller.clock.texts,
                    "caption_target": self.controller.clock.caption_target}
            return frames.export_html(snap, spec, self._payload)
        with language(self.lang):
            size = (msg("export.size_mib", mib=f"{self._size_hint / frames.MiB:.1f}") if self._size_hint > 0
                    else msg("export.size_steps", steps=self.controller.n_steps, most=frames.MAX_FULL))
            notice = html.escape(msg("export.static_only", size=size, budget=f"{self._budget / frames.MiB:.1f}"))
        return frames.export_html(snap, None, None, notice)
