"""Backgrounds drawn ahead: the limits a panel knows its sliders will ask of an axes (notebook 03: one per N;
notebook 04: its spans widened by a few quarters; notebook 05: one per n, with that n's Best-of-n^M markers)
are drawn when the page attaches, while the kernel is idle, one per turn of the event loop, and kept for the
panel's life, so the first step to them pastes the axes instead of drawing it again (docs/design.md,
"Notebook panels").

A panel calls :func:`expect` with y limits exactly as :func:`bondlab.widgets.frames.autoscale` will set them
(:func:`span_limits` gives those of a span), and a ``pose`` where the axes' static artists change with the
slider too; :func:`bondlab.widgets.frames.prepare` calls :func:`draw_expected`.
"""
from __future__ import annotations

from matplotlib.transforms import Bbox

from .frames import _axes_key, _Hidden, _is_static, _spanned

__all__ = ["span_limits", "expect", "draw_expected"]


def span_limits(span, below: int = 0, above: int = 0) -> list:
    """The y limits ``autoscale(ax, yspan=span)`` sets while the data stay inside ``span`` or leave it by up to
    ``below`` quarters of it under and ``above`` quarters over (the same float operations, so equal keys)."""
    s0, s1 = float(span[0]), float(span[1])
    if not s1 > s0:
        raise ValueError(f"span must rise, got {span!r}")
    q = 0.25 * (s1 - s0)
    return [_spanned((s0, s1), (s0 - (i - 0.5) * q if i else s0, s1 + (j - 0.5) * q if j else s1), False)
            for i in range(below + 1) for j in range(above + 1)]


def expect(ax, ylims, pose=None) -> None:
    """Ask for the backgrounds of ``ax`` at each of ``ylims`` (x limits as they are then) to be drawn ahead.
    ``pose(k)``, if given, puts the axes' static artists as they will be with the k-th limits (the panel's
    own code, so their data are the same numbers); they are put back after."""
    ax._bondlab_expected = [(float(lo), float(hi)) for lo, hi in ylims]
    ax._bondlab_pose = pose


def _statics(ax) -> list:
    """The state of ``ax``'s static artists, to put back: a line's data, a text's string and places."""
    out = []
    for a in ax.lines + ax.texts:
        if _is_static(a):
            out.append((a, a.get_data(orig=True) if hasattr(a, "get_data") else
                        (a.get_text(), getattr(a, "xy", None), a.get_position())))
    return out


def _put_back(saved) -> None:
    for a, state in saved:
        if hasattr(a, "get_data"):
            a.set_data(*state)
        else:
            text, xy, pos = state
            a.set_text(text)
            a.set_position(pos)
            if xy is not None:
                a.xy = xy


def _draw_at(fig, bg, i: int, k: int, ylim) -> None:
    """Draw axes ``i``'s background at ``ylim`` (and its ``pose(k)``) into its region and keep it (pinned);
    the limits and static artists are put back. The canvas's pixels are left as scratch: every frame starts
    from the kept background (blit_frame)."""
    ax, canvas = fig.axes[i], fig.canvas
    pose = getattr(ax, "_bondlab_pose", None)
    old, saved = ax.get_ylim(), (_statics(ax) if pose is not None else [])
    ax.set_ylim(ylim, auto=None)
    try:
        if pose is not None:
            pose(k)
        key = _axes_key(ax)
        if (i, key) in bg.pinned or (i, key) in bg.cache:
            return
        bg._erase(i)
        with _Hidden([ax]):
            ax.draw(canvas.get_renderer())
        bg.pinned[(i, key)] = canvas.copy_from_bbox(Bbox.from_extents(*bg.regions[i]))
    finally:
        ax.set_ylim(old, auto=None)
        _put_back(saved)


def draw_expected(fig, bg, loop=None) -> None:
    """Draw every expected background of ``fig``'s axes: all now without ``loop``, else one per turn of it
    (a slider step in between waits for one axes' drawing at most); stops if the background is replaced.
    Nearest first: each axes' limits in order of their distance from the present ones (one slider step
    away comes before ten), the axes taken in turn."""
    if bg.regions is None:   # overlapping axes: only whole-figure draws are exact
        return
    queues = []
    for i, ax in enumerate(fig.axes):
        lo, hi = ax.get_ylim()
        near = sorted(enumerate(getattr(ax, "_bondlab_expected", ())),
                      key=lambda kl: abs(kl[1][0] - lo) + abs(kl[1][1] - hi))
        queues.append([(i, k, lim) for k, lim in near])
    jobs = [q[k] for k in range(max(map(len, queues), default=0)) for q in queues if k < len(q)]
    if loop is None:
        for job in jobs:
            _draw_at(fig, bg, *job)
        return

    def step(k: int) -> None:
        if k < len(jobs) and getattr(fig.canvas, "_bondlab_background", None) is bg:
            _draw_at(fig, bg, *jobs[k])
            loop.call_soon(step, k + 1)

    loop.call_soon(step, 0)
