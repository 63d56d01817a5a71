"""Work that fills a view in while the user steps: a generator run a slice at a time on the kernel's event loop.

A long attention trace's overview costs a whole causal QKᵀ (seconds to minutes at 128k tokens), while a step
costs one query row. So ``show()`` draws the step at once and the overview comes in band by band: the
engine yields after each chunk (``engine.attention.overview_bands``), and :class:`Filling` runs chunks for
about ``SLICE_S`` at a time as callbacks of the running asyncio loop (the kernel's own loop, which also
reads the user's messages). Between two slices the loop reads what arrived, so a step waits at most one
slice, and the kernel never stops answering. Every piece of such work on a loop (a fill's slice, a frame drawn
ahead of the step) goes through one queue, :func:`later`: one piece per turn of the loop, frames first, so two
pieces never run back to back between two reads of the user's messages (each turn polls them). Without a
running loop (a plain script) there is nothing to interleave with: the caller computes the whole overview at
once instead (``running_loop()`` is None).
"""
from __future__ import annotations

import asyncio
import time
import weakref
from collections import deque

from ..engine.attention.overview import empty_overview, overview_bands, put_band
from ..views.attention import overview_image
from ..views.window_fill import Window, WindowRows  # noqa: F401  (the docstring examples)

SLICE_S = 0.02  # about how long one slice of work keeps the loop (a step waits at most this, or one item)
TRIVIAL_S = 0.001  # a turn runs queued jobs until one took this long (a frame for a step gone by takes none)
UPDATE_S = 1.0  # at most one view update per this much work: each redraws the overview and resends frames


def running_loop():
    """The asyncio loop running in this thread (a Jupyter kernel's), or None (a plain script).

    Example: ``running_loop() is None   # outside a kernel or asyncio.run``
    """
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class _Job:
    """One piece of work queued by :func:`later`; ``cancel()`` drops it if it has not run."""

    __slots__ = ("fn", "args", "cancelled")

    def __init__(self, fn, args):
        self.fn, self.args, self.cancelled = fn, args, False

    def cancel(self) -> None:
        self.cancelled = True


class _Turns:
    """A loop's queue of background work: one job per turn of the loop (``call_soon`` of one tick at a time)."""

    def __init__(self, loop):
        self.loop, self.jobs, self.ticking = loop, deque(), False

    def add(self, job: _Job, first: bool) -> None:
        self.jobs.appendleft(job) if first else self.jobs.append(job)
        if not self.ticking:
            self.ticking = True
            self.loop.call_soon(self._tick)

    def _tick(self) -> None:
        t0 = time.perf_counter()
        try:
            while self.jobs and time.perf_counter() - t0 < TRIVIAL_S:  # after a job with nothing to do, the next
                job = self.jobs.popleft()
                if not job.cancelled:
                    job.fn(*job.args)
        finally:  # a job that raised (the loop reports it) leaves the others queued, and the queue turning
            self.ticking = bool(self.jobs)
            if self.ticking:  # the next job on the next turn, after the loop has read what arrived
                self.loop.call_soon(self._tick)


_TURNS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def later(loop, fn, *args, first: bool = False) -> _Job:
    """Run ``fn(*args)`` on a later turn of ``loop``, one queued job per turn (``first``: before the jobs
    queued already, e.g. a frame the page needs before more of an overview). Returns the job (``cancel()``).

    Example::

        import asyncio
        ran = []
        async def main():
            later(asyncio.get_running_loop(), ran.append, 2); later(asyncio.get_running_loop(), ran.append, 1, first=True)
            await asyncio.sleep(0.01)
        asyncio.run(main()); ran == [1, 2]
    """
    turns = _TURNS.get(loop)
    if turns is None:
        turns = _TURNS[loop] = _Turns(loop)
    job = _Job(fn, args)
    turns.add(job, first)
    return job


class Filling:
    """Run ``steps`` (a generator) in slices on ``loop``; ``on_step(item)`` takes every item it yields,
    ``on_update(final)`` redraws the view, at most every ``update_s`` seconds of work and once at the end.

    ``progress`` reads ``item.done / item.total`` of the last item. ``pause()`` stops after the current
    slice (the generator keeps its place), ``resume()`` goes on, ``finish()`` runs what is left at once.

    Example::

        items = []
        f = Filling(overview_bands(at, (0, 0), (1, 1)), on_step=items.append, on_update=print, loop=running_loop())
        f.finish()          # here all at once; on a kernel's loop f.resume() runs a slice at each turn
        f.progress == 1.0 and f.done
    """

    def __init__(self, steps, on_step, on_update, loop, slice_s: float | None = None, update_s: float | None = None):
        self._steps, self._on_step, self._on_update, self._loop = steps, on_step, on_update, loop
        self.slice_s = SLICE_S if slice_s is None else slice_s  # read now: a test may shrink them
        self.update_s = UPDATE_S if update_s is None else update_s
        self.done, self.progress, self.work_s, self.slices = False, 0.0, 0.0, 0
        self._handle, self._since = None, 0.0

    def resume(self) -> None:
        """Schedule the next slice (nothing when done or already scheduled)."""
        if not self.done and self._handle is None:
            self._handle = later(self._loop, self._slice)

    def pause(self) -> None:
        """Run no more slices until ``resume()``."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def finish(self) -> None:
        """Run the rest now, in this call (e.g. before saving a picture of the view)."""
        self.pause()
        while not self.done:
            self._run(float("inf"))

    def _slice(self) -> None:
        self._handle = None
        self._run(self.slice_s)
        self.resume()

    def _run(self, budget: float) -> None:
        t0 = last = time.perf_counter()
        try:
            while True:  # at least one item a slice, however short the slice
                item = next(self._steps, None)
                if item is None:
                    self.done, self.progress = True, 1.0
                    break
                self._on_step(item)
                self.progress = item.done / max(item.total, 1)
                if item.done >= item.total:  # the last item: done now, not one slice later
                    self.done = True
                    break
                now = time.perf_counter()
                if (now - t0) + (now - last) >= budget:  # no item started that would end past the budget
                    break
                last = now
        finally:
            spent = time.perf_counter() - t0
            self.work_s += spent
            self._since += spent
            self.slices += 1
        if self.done or self._since >= self.update_s:
            self._since = 0.0
            self._on_update(self.done)


class OverviewFilling(Filling):
    """The pooled weights overview of one batch/head entry of an attention trace, filled in on ``loop``;
    ``redraw(filling)`` is called at each update and at the end, to read ``image()``.

    Example::

        f = OverviewFilling(at, (0, 0), (1, 1), redraw=lambda f: print(f.image().notice), loop=None)
        f.finish(); f.progress == 1.0       # here all at once; on a kernel's loop, f.resume() instead
    """

    def __init__(self, trace, index: tuple, factors: tuple[int, int], redraw, loop, **timing):
        self.trace, self.factors, self.rows = trace, factors, 0
        self.pooled, self.blocked = empty_overview(trace, factors)
        self._redraw = redraw
        super().__init__(overview_bands(trace, index, factors), self._put, self._update, loop, **timing)

    def _put(self, step) -> None:
        put_band(self.pooled, self.blocked, step)
        if step.band is not None:
            self.rows = step.b  # bands come in order: every row above b is in

    def image(self):
        """The overview as computed so far (``views.attention.overview_image``)."""
        return overview_image(self.trace, self.pooled, self.blocked, self.factors,
                              None if self.done else self.rows, self.progress)

    def _update(self, final: bool) -> None:
        self._redraw(self)


class _Groups:
    """Groups of a window's rows computed, of all (a Filling's item)."""

    def __init__(self, done: int, total: int):
        self.done, self.total = done, total


class WindowFilling(Filling):
    """The rows of a weights window not computed yet (``views.window_fill.WindowRows``), one group of rows per
    item on ``loop``; ``filled(filling)`` is called once, when every row is in. ``key`` names the window.

    One group per turn of the loop (about 13 ms at T=131,072: 16 rows over 131,072 keys), and the view is
    updated only at the end (``update_s`` infinite), on a turn of its own: the window costs about 100 ms of
    work, a few turns, and meanwhile the rows not computed yet are drawn "not yet".

    Example::

        rows = WindowRows(at, (0, 0), Window(0, 6, 0, 6)); rows.ensure(5)
        f = WindowFilling(rows, ((0, 0), rows.win), filled=print, loop=running_loop())
        f.finish(); rows.done and f.done     # here all at once; on a kernel's loop f.resume() instead
    """

    def __init__(self, rows, key, filled, loop, **timing):
        self.rows, self.key = rows, key
        then = (lambda: filled(self)) if loop is None else (lambda: later(loop, filled, self, first=True))
        super().__init__(self._groups(), lambda item: None, lambda final: then(), loop,
                         **{"update_s": float("inf"), "slice_s": 0.0, **timing})

    def _groups(self):
        while self.rows.grow():
            yield _Groups(self.rows.last - self.rows.first + 1, len(self.rows.groups))
