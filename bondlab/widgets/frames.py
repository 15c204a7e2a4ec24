"""Frames of a panel's figure: limits fixed over the sliders' range (or following the data with hysteresis),
and blitting over a background kept per axes, so a slider step redraws only what moved (see docs/design.md,
"Notebook panels").
"""
from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox

__all__ = ["autoscale", "set_limits", "blit_frame", "show", "prepare", "static"]

CACHED_PER_AXES = 8   # backgrounds kept per axes for limits seen before (a few hundred KB each)


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


def _spanned(span, data, log: bool):
    """Limits that hold every slider value: ``span`` (bounds of the plotted quantity over the sliders' whole
    range, found by the panel) with 5% margins, widened by whole quarters of it on a side the data leave it
    (so limits take few values and the drawn backgrounds of earlier ones are reused). On a log axis (``span``
    "decades"), whole decades around the data."""
    lo, hi = float(min(data)), float(max(data))
    if log:
        if not (lo > 0 and np.isfinite(hi)):
            return None
        return 10.0 ** np.floor(np.log10(lo)), 10.0 ** np.ceil(np.log10(hi))
    s0, s1 = span
    q = 0.25 * (s1 - s0)
    if lo < s0:
        s0 -= q * np.ceil((s0 - lo) / q)
    if hi > s1:
        s1 += q * np.ceil((hi - s1) / q)
    m = 0.05 * (s1 - s0)
    return s0 - m, s1 + m


def autoscale(ax, *, x: bool = False, y: bool = True, xspan=None, yspan=None) -> None:
    """Limits from the current data (after ``set_line``). With ``xspan`` / ``yspan`` (bounds over the sliders'
    range, or "decades" on a log axis) they are fixed by it (:func:`_spanned`): no slider step moves them
    while the data stay inside. Otherwise they are kept when they barely change (:func:`_keep`) and widened
    by a quarter on a side that grew: a drag then mostly reuses the drawn background."""
    old = {"x": ax.get_xlim(), "y": ax.get_ylim()}
    ax.relim()
    fixed = set()
    for which, on, span in (("x", x, xspan), ("y", y, yspan)):
        if not on or span is None:
            continue
        axis, put = (ax.xaxis, ax.set_xlim) if which == "x" else (ax.yaxis, ax.set_ylim)
        data = ax.dataLim.intervalx if which == "x" else ax.dataLim.intervaly
        lims = _spanned(span, data, axis.get_scale() == "log") if np.all(np.isfinite(data)) else None
        if lims is not None:
            put(*lims, auto=None)
            fixed.add(which)
    rest = {"x": x and "x" not in fixed, "y": y and "y" not in fixed}
    ax.autoscale_view(scalex=rest["x"], scaley=rest["y"])
    for which, on in rest.items():
        if on:
            _limits(ax, which, old[which], ax.get_xlim() if which == "x" else ax.get_ylim())


def _labels(ax) -> list:
    """Drawn over the data and pasted from a cache while their text is unchanged: the title (outside the axes)
    and the legend (opaque and pinned where it first stood, see :func:`_pin_legend`)."""
    return [ax.title] + ([ax.get_legend()] if ax.get_legend() is not None else [])


STATIC_ZORDER = 1.6   # above the axes' face and grid, below the data (lines 2): a full draw agrees with a blit


def static(*artists) -> None:
    """Mark artists that change only with some sliders (reference lines, their annotations) as part of their
    axes' drawn background: redrawn, with the axes alone, only when they change (:func:`_axes_key`), never
    on the frames in between. They go under the data (``STATIC_ZORDER``) in a full draw too."""
    for a in artists:
        a._bondlab_static = True
        a.set_zorder(min(a.get_zorder(), STATIC_ZORDER))


def _is_static(a) -> bool:
    return getattr(a, "_bondlab_static", False)


def _data(ax) -> list:
    """The artists drawn on every frame, in drawing order: lines, areas, annotations (not :func:`static`)."""
    return sorted((a for a in ax.lines + ax.collections + ax.texts if not _is_static(a)), key=lambda a: a.get_zorder())


def _signature(a) -> tuple:
    """What a static artist looks like: a line's data, a text's string and place."""
    if hasattr(a, "get_xydata"):
        return (a.get_visible(), np.asarray(a.get_xydata(), dtype=float).tobytes())
    xy = getattr(a, "xy", None)
    return (a.get_visible(), a.get_text(), tuple(a.get_position()), None if xy is None else tuple(xy))


def _pin_legend(ax, renderer) -> None:
    """Make ``ax``'s legend a layer whose pixels depend on its text only: an opaque frame (the data under it
    no longer show through) and, for ``loc="best"``, the place "best" chose at the first draw (not searched
    again on every frame). A full draw then gives the same picture as a blitted frame."""
    leg = ax.get_legend()
    if leg is None:
        return
    leg.get_frame().set_alpha(1.0)
    if leg._loc in (0, "best"):
        x0, y0 = ax.transAxes.inverted().transform(leg.get_window_extent(renderer).p0)
        leg.set_loc((float(x0), float(y0)))


def _axes_key(ax) -> tuple:
    """What one axes' static background (frame, ticks, tick and axis labels, :func:`static` artists) depends on."""
    return (ax.get_xlim(), ax.get_ylim(), ax.get_xscale(), ax.get_yscale(),
            tuple(_signature(a) for a in ax.lines + ax.texts if _is_static(a)))


def _static_key(fig: Figure) -> tuple:
    """What the whole static background depends on: the size and every axes' limits and scales."""
    return (fig.bbox.bounds,) + tuple(_axes_key(ax) for ax in fig.axes)


def _text_of(artist) -> tuple:
    texts = artist.get_texts() if hasattr(artist, "get_texts") else [artist]
    return tuple(t.get_text() for t in texts)


def _paste_or_draw(ax, artist, cache: dict, key) -> None:
    """Paste ``artist``'s pixels from ``cache`` when its text and ``key`` are unchanged, else draw it and keep
    its pixels: a title (nothing else is drawn where it is; ``key``: the background's) or an opaque legend
    (``key`` None; its pixels are its own but for the anti-aliased edge, so 1 px of margin only)."""
    canvas = ax.figure.canvas
    k = (key, id(artist), _text_of(artist))
    if k in cache:
        canvas.restore_region(cache[k])
        return
    ax.draw_artist(artist)
    if not artist.get_visible() or not _text_of(artist) or _text_of(artist) == ("",):
        return
    bbox = artist.get_window_extent(canvas.get_renderer()).padded(2 if key is not None else 1)
    if len(cache) > 64:
        cache.clear()
    cache[k] = canvas.copy_from_bbox(bbox)


class _Hidden:
    """Hide the frame-by-frame artists (and titles) of ``axes`` while their static background is drawn."""

    def __init__(self, axes):
        self.axes = list(axes)
        self.arts = [a for ax in self.axes for a in _data(ax) + _labels(ax)]

    def __enter__(self):
        self.shown = [a.get_visible() for a in self.arts]
        self.where = [ax.title.get_position() for ax in self.axes]   # a hidden title is moved off the axes
        for a in self.arts:
            a.set_visible(False)

    def __exit__(self, *exc):
        for a, v in zip(self.arts, self.shown):
            a.set_visible(v)
        for ax, xy in zip(self.axes, self.where):
            ax.title.set_position(xy)


def _regions(fig: Figure, renderer):
    """Each axes' cell of the figure as integer pixel extents ``(x0, y0, x1, y1)`` from the bottom left: its
    tight box (without the data) grown halfway to the neighbouring axes' boxes, or to the figure's edge, so that
    tick labels that widen with new limits stay inside it. None when two tight boxes overlap: then only a
    whole-figure draw is exact."""
    w, h = int(fig.bbox.width), int(fig.bbox.height)
    boxes = [ax.get_tightbbox(renderer).extents for ax in fig.axes]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]:
                return None
    out = []
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        others = [b for j, b in enumerate(boxes) if j != i]
        side_by_side = [b for b in others if b[1] < y1 and y0 < b[3]]
        stacked = [b for b in others if b[0] < x1 and x0 < b[2]]
        left = max([int((b[2] + x0) // 2) for b in side_by_side if b[2] <= x0], default=0)
        right = min([int((x1 + b[0]) // 2) for b in side_by_side if b[0] >= x1], default=w)
        bottom = max([int((b[3] + y0) // 2) for b in stacked if b[3] <= y0], default=0)
        top = min([int((y1 + b[1]) // 2) for b in stacked if b[1] >= y1], default=h)
        out.append((left, bottom, right, top))
    return out


class _Background:
    """The drawn static background of a figure: the whole picture, a blank one (the figure's face only), each
    axes' region, and a few regions per axes already drawn for other limits (a drag back reuses them)."""

    def __init__(self, fig: Figure):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        canvas = self.canvas = fig.canvas
        renderer = canvas.get_renderer()
        for ax in fig.axes:
            _pin_legend(ax, renderer)
        with _Hidden(fig.axes):
            FigureCanvasAgg.draw(canvas)   # the plain Agg draw: webagg's own draw would send this frame
            self.regions = _regions(fig, renderer)
        self.whole = canvas.copy_from_bbox(fig.bbox)
        renderer.clear()
        fig.patch.draw(renderer)
        self.blank = np.asarray(renderer.buffer_rgba()).copy()   # (H, W, 4), row 0 at the top
        canvas.restore_region(self.whole)
        self.size, self.keys = fig.bbox.bounds, [_axes_key(ax) for ax in fig.axes]
        self.cache, self.labels, self.pinned = {}, {}, {}   # pinned: drawn ahead (prefetch.py), never dropped
        if self.regions is not None:
            for i, ax in enumerate(fig.axes):
                self._keep(i, self.keys[i])

    def _keep(self, i, key) -> None:
        if sum(k[0] == i for k in self.cache) >= CACHED_PER_AXES:
            self.cache.pop(next(k for k in self.cache if k[0] == i))
        self.cache[(i, key)] = self.canvas.copy_from_bbox(Bbox.from_extents(*self.regions[i]))

    def _erase(self, i) -> None:
        """Put the blank figure back over axes ``i``'s region (extents from the bottom, rows from the top)."""
        x0, y0, x1, y1 = self.regions[i]
        h = self.blank.shape[0]
        np.asarray(self.canvas.get_renderer().buffer_rgba())[h - y1:h - y0, x0:x1] = self.blank[h - y1:h - y0, x0:x1]

    def redraw(self, fig: Figure):
        """Bring the background up to date with the axes' limits: each changed axes' region is restored from
        the cache or drawn alone over the blank figure. Returns True when no axes had to be drawn, False when
        some did, None when only a whole-figure draw is exact (new size or axes, overlapping regions)."""
        if self.regions is None or fig.bbox.bounds != self.size or len(fig.axes) != len(self.keys):
            return None
        keys = [_axes_key(ax) for ax in fig.axes]
        if keys == self.keys:
            self.canvas.restore_region(self.whole)
            return True
        canvas, reused = self.canvas, True
        canvas.restore_region(self.whole)
        for i, (ax, key) in enumerate(zip(fig.axes, keys)):
            if key == self.keys[i]:
                continue
            kept = self.pinned.get((i, key), self.cache.get((i, key)))
            if kept is not None:
                canvas.restore_region(kept)
            else:
                self._erase(i)
                with _Hidden([ax]):
                    ax.draw(canvas.get_renderer())
                self._keep(i, key)
                reused = False
        self.keys, self.whole = keys, canvas.copy_from_bbox(fig.bbox)
        return reused


def blit_frame(fig: Figure) -> bool:
    """Draw a frame and send it. The static background is kept (:class:`_Background`): an axes whose limits
    changed is drawn again alone, in its own region, or restored from the regions drawn for earlier limits;
    the whole figure is drawn only at first, on a new size, or when the axes' regions overlap. Lines, areas
    and annotations are drawn over it, and titles and legends pasted from a cache while their text is
    unchanged. Returns True when no part of the background had to be drawn. Same picture as a full draw
    except that the data sit above the spines."""
    canvas = fig.canvas
    bg = getattr(canvas, "_bondlab_background", None)
    reused = bg.redraw(fig) if bg is not None else None
    if reused is None:
        bg = canvas._bondlab_background = _Background(fig)
        reused = False
    _draw_over(fig, bg)
    canvas.blit(fig.bbox)   # ipympl: diff against the last frame, send the changed pixels
    return reused


def _draw_over(fig: Figure, bg: _Background) -> None:
    key = _static_key(fig)
    for ax in fig.axes:
        for a in _data(ax):
            ax.draw_artist(a)
    for ax in fig.axes:
        for a in _labels(ax):   # legends: opaque and pinned, so their pixels do not depend on the limits
            _paste_or_draw(ax, a, bg.labels, key if a is ax.title else None)


def prepare(fig: Figure, loop=None) -> None:
    """Draw the static background, the titles and the legends now (when the page has just attached and the
    kernel is idle), without sending a frame, so that the first slider step blits like the others; then the
    backgrounds of the limits the panel expects (:mod:`.prefetch`), one per turn of ``loop`` if given."""
    if getattr(fig.canvas, "_bondlab_background", None) is None:
        bg = fig.canvas._bondlab_background = _Background(fig)
        _draw_over(fig, bg)
        from .prefetch import draw_expected
        draw_expected(fig, bg, loop)


def show(fig: Figure) -> None:
    """Send the page a new frame: with a page attached, blit now (:func:`blit_frame`, one round trip fewer
    than ``draw_idle``); with none (tests, scripts) nothing is drawn until asked."""
    canvas = fig.canvas
    if getattr(canvas, "syncing_data_url", True):
        canvas.draw_idle()
    else:
        blit_frame(fig)
