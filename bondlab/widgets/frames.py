"""Frames of a panel's figure: limits that follow the data with hysteresis, and blitting over a cached
background so a slider step redraws only what moved (see docs/design.md, "Notebook panels").
"""
from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

__all__ = ["autoscale", "set_limits", "blit_frame", "show"]


def _keep(old, new, log: bool) -> bool:
    """Keep the old limits when the new ones lie inside them (give or take 2.5% of their span, less than
    autoscale's 5% margin, so no data leave the frame) and span at least 60% of them: hysteresis, so that a
    drag mostly reuses the drawn background instead of redrawing ticks for every small change."""
    if log:
        if min(*old, *new) <= 0:
            return False
        old, new = np.log10(old), np.log10(new)
    lo, hi = min(old), max(old)
    slack = 0.025 * (hi - lo)
    return lo - slack <= min(new) and max(new) <= hi + slack and (max(new) - min(new)) >= 0.6 * (hi - lo)


def _padded(old, new, log: bool):
    """New limits with 25% headroom above when the top grew, so a drag upwards redraws less often."""
    f = (np.log10, lambda v: 10.0 ** v) if log else (lambda v: v, lambda v: v)
    (o0, o1), (n0, n1) = sorted(f[0](np.asarray(old, dtype=float))), sorted(f[0](np.asarray(new, dtype=float)))
    pad = 0.25 * (n1 - n0)
    return f[1](n0), f[1](n1 + pad if n1 > o1 else n1)


def _limits(ax, which: str, old, new) -> None:
    axis, put = (ax.xaxis, ax.set_xlim) if which == "x" else (ax.yaxis, ax.set_ylim)
    log = axis.get_scale() == "log"
    if _keep(old, new, log):
        put(old, auto=None)            # auto=None: later autoscale_view calls still rescale
    elif not (log and min(*old, *new) <= 0):
        put(*_padded(old, new, log), auto=None)
    else:
        put(new, auto=None)


def set_limits(ax, lo, hi, which: str = "y") -> None:
    """``set_ylim`` (or ``set_xlim``) with the hysteresis and headroom of :func:`autoscale`."""
    _limits(ax, which, ax.get_ylim() if which == "y" else ax.get_xlim(), (lo, hi))


def autoscale(ax, *, x: bool = False, y: bool = True) -> None:
    """Limits from the current data (after ``set_line``), kept when they barely change (:func:`_keep`) and
    widened by a quarter on a side that grew: a drag then mostly reuses the drawn background."""
    old = {"x": ax.get_xlim(), "y": ax.get_ylim()}
    ax.relim()
    ax.autoscale_view(scalex=x, scaley=y)
    for which, on in (("x", x), ("y", y)):
        if on:
            _limits(ax, which, old[which], ax.get_xlim() if which == "x" else ax.get_ylim())


def _labels(ax) -> list:
    """Titles: outside the axes, so pasted from a cache while their text is unchanged."""
    return [ax.title]


def _data(ax) -> list:
    """The artists drawn on every frame, in drawing order: lines, areas, annotations, then the legend (drawn,
    not pasted: its frame lets the data show through and "best" may move it, as in a full draw)."""
    arts = sorted(ax.lines + ax.collections + ax.texts, key=lambda a: a.get_zorder())
    return arts + ([ax.get_legend()] if ax.get_legend() is not None else [])


def _static_key(fig: Figure) -> tuple:
    """What the static background (frame, ticks, tick labels, axis labels) depends on."""
    return (fig.bbox.bounds,) + tuple((ax.get_xlim(), ax.get_ylim(), ax.get_xscale(), ax.get_yscale())
                                      for ax in fig.axes)


def _text_of(artist) -> tuple:
    texts = artist.get_texts() if hasattr(artist, "get_texts") else [artist]
    return tuple(t.get_text() for t in texts)


def _paste_or_draw(ax, artist, cache: dict, key) -> None:
    """Paste ``artist``'s pixels from ``cache`` when its text and the background are unchanged, else draw it
    and keep its pixels (nothing else is drawn where a title is)."""
    canvas = ax.figure.canvas
    k = (key, id(artist), _text_of(artist))
    if k in cache:
        canvas.restore_region(cache[k])
        return
    ax.draw_artist(artist)
    if not artist.get_visible() or not _text_of(artist) or _text_of(artist) == ("",):
        return
    bbox = artist.get_window_extent(canvas.get_renderer()).padded(2)
    if len(cache) > 64:
        cache.clear()
    cache[k] = canvas.copy_from_bbox(bbox)


def blit_frame(fig: Figure) -> bool:
    """Draw a frame and send it: the static background is drawn only when the axes' limits (or the size)
    changed and is otherwise restored from a copy; lines, areas and legends are drawn over it, and titles
    pasted from a cache while their text is unchanged. Returns True when the background was reused. Same
    picture as a full draw except that the data sit above the spines."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    canvas = fig.canvas
    key = _static_key(fig)
    reused = getattr(canvas, "_bondlab_key", None) == key
    if reused:
        canvas.restore_region(canvas._bondlab_background)
    else:
        dyn = [a for ax in fig.axes for a in _data(ax) + _labels(ax)]
        shown = [a.get_visible() for a in dyn]
        where = [ax.title.get_position() for ax in fig.axes]   # a hidden title would be moved off the axes
        for a in dyn:
            a.set_visible(False)
        try:
            FigureCanvasAgg.draw(canvas)   # the plain Agg draw: webagg's own draw would send this frame
        finally:
            for a, v in zip(dyn, shown):
                a.set_visible(v)
            for ax, xy in zip(fig.axes, where):
                ax.title.set_position(xy)
        canvas._bondlab_background, canvas._bondlab_key = canvas.copy_from_bbox(fig.bbox), key
        canvas._bondlab_labels = {}
    for ax in fig.axes:
        for a in _data(ax):
            ax.draw_artist(a)
    for ax in fig.axes:
        for a in _labels(ax):
            _paste_or_draw(ax, a, canvas._bondlab_labels, key)
    canvas.blit(fig.bbox)   # ipympl: diff against the last frame, send the changed pixels
    return reused


def show(fig: Figure) -> None:
    """Send the page a new frame: with a page attached, blit now (:func:`blit_frame`, one round trip fewer
    than ``draw_idle``); with none (tests, scripts) nothing is drawn until asked."""
    canvas = fig.canvas
    if getattr(canvas, "syncing_data_url", True):
        canvas.draw_idle()
    else:
        blit_frame(fig)
