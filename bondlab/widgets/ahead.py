"""Work done ahead for the next slider step: after every update, while the kernel is idle, a panel computes
the results for each control's next value up and down (one step) into its cache, and draws the backgrounds of
the axes those values would move to limits (or static markers) not drawn yet, so the first step to a value
next to the present ones neither waits for its maths nor draws an axes (docs/design.md, "Notebook panels").

A panel gives :func:`bondlab.widgets.live.make_panel` an :class:`Ahead` built from its controls and two
functions of a ``{name: value}`` dict (the values as :func:`values` reads them): ``jobs(values)``, calls that
each fill the panel's cache with one result those values need (keyed by exactly the inputs, so a step to them
shows the numbers it would compute then, bit for bit), and ``pose(values)``, which sets the artists, limits
and titles as the update for those values would, without a frame or the readout. Jobs run one per turn of
the kernel's event loop (a slider message in between waits for one job at most) and a new request drops
them. With no running loop nothing runs by itself: :meth:`Ahead.run_pending` runs them (benchmarks: the
page's idle time between steps).
"""
from __future__ import annotations

import math
from collections import deque

__all__ = ["Ahead", "cached", "one_job", "values", "neighbours"]


def cached(cache: dict, key, run, size: int = 64):
    """``cache[key]``, made by ``run()`` if missing; the ``size`` results used last are kept."""
    if key in cache:
        cache[key] = cache.pop(key)   # most recently used last
    else:
        if len(cache) >= size:
            cache.pop(next(iter(cache)))
        cache[key] = run()
    return cache[key]


def _plain(v):
    """A float slider's value without the float noise of the arithmetic that made it (0.1 + 0.05 is
    0.15000000000000002; the browser's slider has its own): the number of 12 significant digits within 64
    ulps of it, if there is one, so that a step to a value finds what was computed ahead for it, whichever side
    did the sum; else (2 ** 3.55, a real N) the value itself. Other values as they are."""
    if not (isinstance(v, float) and math.isfinite(v)):
        return v
    short = float(f"{v:.12g}")
    return short if abs(short - v) <= 64 * math.ulp(v) else v


def one_job(cache: dict, key, make):
    """``jobs`` for a panel whose values need one result: ``make(key(v))`` into ``cache`` unless it is there."""
    def jobs(v):
        k = key(v)
        return [] if k in cache else [lambda: cached(cache, k, lambda: make(k))]
    return jobs


def values(controls: dict) -> dict:
    """The controls' values as a panel computes with them (floats through :func:`_plain`)."""
    return {k: _plain(c.value) for k, c in controls.items()}


def _steps(control, v, first: int = 1) -> list:
    """The values one step from ``v`` that ``control`` can take: its other options, or one slider step down
    and up (on a log slider, in the exponent), the side ``first`` (+1 up, -1 down) first."""
    if hasattr(control, "options"):
        opts = [o[1] if isinstance(o, tuple) else o for o in control.options]
        i = opts.index(v) if v in opts else 0
        return [opts[(i + j) % len(opts)] for j in range(1, len(opts))]
    step, lo, hi = control.step, control.min, control.max
    base = getattr(control, "base", None)
    at = _plain(math.log(v, base)) if base else v
    out = []
    for s in (first, -first):
        w = _plain(at + s * step)
        if lo - 1e-9 * abs(step) <= w <= hi + 1e-9 * abs(step):
            out.append(_plain(float(base ** w)) if base else w)
    return out


def neighbours(controls: dict, now: dict, before: dict | None = None) -> list:
    """The value dicts one step from ``now``, one control changed in each: the controls that changed since
    ``before`` first (the way they moved first), then the others in their order."""
    moved = {}
    for k in controls:
        if before is not None and before.get(k) != now[k]:
            try:
                moved[k] = 1 if now[k] > before[k] else -1
            except TypeError:    # options: no order
                moved[k] = 1
    out = []
    for k in sorted(controls, key=lambda k: k not in moved):
        out += [{**now, k: w} for w in _steps(controls[k], now[k], moved.get(k, 1))]
    return out


def _newest(bg, keys) -> None:
    """Make the kept backgrounds of ``keys`` ((axes index, axes key) pairs) the newest of ``bg``'s cache, in
    order (the cache drops its oldest first)."""
    for ik in keys:
        if ik in bg.cache:
            bg.cache[ik] = bg.cache.pop(ik)


class Ahead:
    """The idle-time queue of a panel (see the module's text). ``after()`` is called after each update (by
    :func:`bondlab.widgets.live.make_panel`); ``jobs`` counts the jobs run, ``drawn`` the axes drawn ahead."""

    def __init__(self, controls: dict, jobs, pose, fig=None):
        if not (callable(jobs) and callable(pose)):
            raise TypeError("jobs and pose must be callable")
        self.controls, self.jobs_of, self.pose, self.fig = controls, jobs, pose, fig
        self.queue: deque = deque()
        self.now = self.before = self.latest = self.handle = None
        self.wanted: list = []   # (axes, key) of the backgrounds the neighbours need, nearest first
        self.jobs = self.drawn = 0

    def after(self) -> None:
        """Replace the queue with the work for the present values' neighbours, nearest first (the maths of
        one, then its backgrounds, then the next); in a kernel, start it on the event loop's next turn."""
        self.before, self.now = self.now, values(self.controls)
        self.again()

    def again(self) -> None:
        """Make the queue for the present values anew (when the page attaches: the backgrounds skipped before
        there was one to draw into)."""
        from .live import _kernel_loop
        self.queue.clear()
        self.wanted = []
        for v in neighbours(self.controls, self.now, self.before):
            self.queue.extend(self.jobs_of(v))
            self.queue.append(lambda v=v: self._background(v))
        self.queue.append(self._keep_wanted)
        loop = _kernel_loop()
        if loop is not None and self.handle is None:
            self.handle = loop.call_soon(self._step, loop)

    def _busy(self) -> bool:
        return self.latest is not None and (self.latest.pending or self.latest.running)

    def _step(self, loop) -> None:
        """One job, then the next on the loop's next turn; a pending update drops the queue (it makes its own)."""
        self.handle = None
        if self._busy():
            self.queue.clear()
        if not self.queue:
            return
        job = self.queue.popleft()
        try:
            job()
            self.jobs += 1
        except Exception:
            self.queue.clear()
            raise
        self.handle = loop.call_soon(self._step, loop)

    def run_pending(self) -> int:
        """Run every queued job now (what the kernel does while idle); returns how many ran."""
        ran = 0
        while self.queue:
            self.queue.popleft()()
            ran += 1
        self.jobs += ran
        return ran

    def _keep_wanted(self) -> None:
        """The backgrounds the neighbours need become the newest of the kept ones (the cache drops the oldest
        first), the nearest neighbour's newest of all."""
        bg = getattr(getattr(self.fig, "canvas", None), "_bondlab_background", None)
        if bg is not None:
            _newest(bg, reversed(self.wanted))

    def _background(self, v: dict) -> None:
        """Pose the figure for ``v``; draw and keep the first axes whose background (limits, static artists)
        is not kept yet (again, as a job of its own, while more are missing); put the present pose back."""
        from .frames import _axes_key, _Hidden
        fig = self.fig
        bg = getattr(getattr(fig, "canvas", None), "_bondlab_background", None)
        if bg is None or bg.regions is None or len(fig.axes) != len(bg.keys):
            return   # no page yet (its arrival draws the background), or only whole-figure draws are exact
        limits = [(ax.get_xlim(), ax.get_ylim()) for ax in fig.axes]
        try:
            self.pose(v)
            keys = list(enumerate(map(_axes_key, fig.axes)))
            self.wanted += keys
            _newest(bg, keys)   # kept ones become the newest, so this pass's drawings do not drop them
            missing = [(i, k) for i, k in keys
                       if k != bg.keys[i] and (i, k) not in bg.pinned and (i, k) not in bg.cache]
            if missing:
                i, key = missing[0]
                bg._erase(i)   # the canvas's pixels are scratch: every frame starts from the kept background
                with _Hidden([fig.axes[i]]):
                    fig.axes[i].draw(fig.canvas.get_renderer())
                bg._keep(i, key)
                self.drawn += 1
                if len(missing) > 1:
                    self.queue.appendleft(lambda: self._background(v))
        finally:
            self.pose(self.now)
            for ax, (x, y) in zip(fig.axes, limits):
                ax.set_xlim(x, auto=None)
                ax.set_ylim(y, auto=None)
