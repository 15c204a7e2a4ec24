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


def expect(ax, ylims, pose=None, xlims=None) -> None:
    """Ask for the backgrounds of ``ax`` at each of ``ylims`` to be drawn ahead, with ``xlims[k]`` (None, or no
    ``xlims``: the x limits as they are then). ``pose(k)``, if given, puts the axes' static artists as they will
    be with the k-th limits (the panel's own code, so their data are the same numbers); they are put back after."""
    ylims = [(float(lo), float(hi)) for lo, hi in ylims]
    xlims = [None] * len(ylims) if xlims is None else [None if x is None else (float(x[0]), float(x[1])) for x in xlims]
    if len(xlims) != len(ylims):
        raise ValueError(f"xlims must have one entry per ylims entry ({len(ylims)}), got {len(xlims)}")
    ax._bondlab_expected = list(zip(xlims, ylims))
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


def _draw_at(fig, bg, i: int, k: int, lims) -> None:
    """Draw axes ``i``'s background at ``lims`` = (xlim or None, ylim) (and its ``pose(k)``) into its region and
    keep it (pinned); the limits and static artists are put back. The canvas's pixels are left as scratch:
    every frame starts from the kept background (blit_frame)."""
    ax, canvas = fig.axes[i], fig.canvas
    pose = getattr(ax, "_bondlab_pose", None)
    old, saved = (ax.get_xlim(), ax.get_ylim()), (_statics(ax) if pose is not None else [])
    if lims[0] is not None:
        ax.set_xlim(lims[0], auto=None)
    ax.set_ylim(lims[1], auto=None)
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
        ax.set_xlim(old[0], auto=None)
        ax.set_ylim(old[1], auto=None)
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
        (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()

        def far(entry, x0=x0, x1=x1, y0=y0, y1=y1):   # from the present limits, in their own widths
            x, y = entry[1]
            x = x or (x0, x1)
            return ((abs(x[0] - x0) + abs(x[1] - x1)) / (abs(x1 - x0) or 1.0)
                    + (abs(y[0] - y0) + abs(y[1] - y1)) / (abs(y1 - y0) or 1.0))

        near = sorted(enumerate(getattr(ax, "_bondlab_expected", ())), key=far)
        queues.append([(i, k, lims) for k, lims in near])
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
