"""What every notebook panel shares: a figure drawn in the page by ipympl and updated in place, a readout
table, and updates that coalesce so a fast drag computes only the latest value.

A panel's callback never clears an axes or re-plots: the first update draws with the plot helpers of
:mod:`bondlab.plots`, the layout is computed once (constrained layout, then frozen), and later updates set the
artists' data (:func:`set_line`, :func:`set_label`, :func:`set_fill`) and ask for a frame
(:func:`bondlab.widgets.frames.show`, re-exported here): it blits over a cached background and ipympl sends
the browser only the pixels that changed.
"""
from __future__ import annotations

import asyncio
import io
import struct
import types
import warnings
import zlib
from dataclasses import dataclass, field

import ipywidgets as W
import numpy as np
from matplotlib.figure import Figure

from .frames import autoscale, blit_frame, prepare, set_limits, show

__all__ = ["Panel", "Latest", "FigureImage", "live_figure", "freeze_layout", "figure_png", "readout_table",
           "set_line", "set_label", "set_fill", "autoscale", "set_limits", "show", "blit_frame", "make_panel"]


def figure_png(fig: Figure, dpi: int = 80) -> bytes:
    """Render a matplotlib figure to PNG bytes (no pyplot, no display needed)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def readout_table(rows) -> str:
    """HTML table from ``(key, label, value)`` rows; each value cell has ``id=key`` so tests can read it."""
    cells = "".join(f'<tr><th style="text-align:left;padding-right:1em">{label}</th>'
                    f'<td id="{key}" style="text-align:right">{value}</td></tr>' for key, label, value in rows)
    return f"<table>{cells}</table>"


class FigureImage:
    """The panel's figure as PNG bytes, rendered when ``.value`` is read (the page gets ipympl's frames instead)."""

    def __init__(self, fig: Figure):
        self.fig = fig

    @property
    def value(self) -> bytes:
        return figure_png(self.fig)


def live_figure(figsize, dpi: int = 80) -> Figure:
    """A figure whose canvas is ipympl's widget (no ``%matplotlib widget`` needed): it lives in the page and
    redraws there on ``fig.canvas.draw_idle()``. Constrained layout until :func:`freeze_layout`."""
    try:
        from ipympl.backend_nbagg import Canvas, FigureManager
    except ImportError as e:   # pragma: no cover - ipympl is in the notebooks and dev extras
        raise ImportError("the notebook panels draw through ipympl: pip install 'bondlab[notebooks]'") from e
    fig = Figure(figsize=figsize, dpi=dpi, layout="constrained")
    canvas = Canvas(fig)
    with warnings.catch_warnings():   # ipympl's Toolbar passes traitlets an argument it deprecates
        warnings.simplefilter("ignore", DeprecationWarning)
        FigureManager(canvas, 0)      # ipympl's frame sender; no pyplot figure registry involved
    canvas.header_visible = canvas.footer_visible = canvas.toolbar_visible = False
    canvas.resizable = False
    canvas.capture_scroll = False

    def attached(_, content, buffers):   # ipympl's page is there: draw the background while the kernel is idle
        if content.get("type") == "initialized":   # (and the next values' backgrounds: bondlab.widgets.ahead)
            loop = _kernel_loop()
            ahead = getattr(canvas, "_bondlab_ahead", None)
            for job in [lambda: prepare(fig, loop)] + ([ahead.again] if ahead is not None else []):
                loop.call_later(0.3, job) if loop is not None else job()

    canvas.on_msg(attached)
    canvas.get_diff_image = types.MethodType(_fast_diff_image, canvas)
    return fig


def _png(rgba: np.ndarray) -> bytes:
    """An (H, W, 4) uint8 RGBA image as PNG with no row filter and zlib's fastest level: on a diff frame (mostly
    transparent zeros) a third of Pillow's time (which tries five filters on every row), and no larger."""
    h, w = rgba.shape[:2]
    raw = np.zeros((h, 1 + 4 * w), dtype=np.uint8)    # each row: its filter type (0, none), then its pixels
    raw[:, 1:] = rgba.reshape(h, 4 * w)

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0))   # 8-bit RGBA
            + chunk(b"IDAT", zlib.compress(raw.tobytes(), 1)) + chunk(b"IEND", b""))


def _fast_diff_image(canvas):
    """matplotlib's ``FigureCanvasWebAggCore.get_diff_image`` (the PNG of the pixels changed since the last
    frame, transparent elsewhere), encoded by :func:`_png`: the encoding is the largest cost of a frame after
    blitting."""
    if not canvas._png_is_old:
        return None
    buff = np.asarray(canvas.get_renderer().buffer_rgba()).view(np.uint32).squeeze(2)   # (H, W) pixels
    if canvas._force_full or buff.shape != canvas._last_buff.shape or \
            (buff.view(np.uint8).reshape(*buff.shape, 4)[:, :, 3] != 255).any():
        canvas.set_image_mode("full")
        output = buff
    else:
        canvas.set_image_mode("diff")
        output = np.where(buff != canvas._last_buff, buff, 0)
    canvas._last_buff, canvas._force_full, canvas._png_is_old = buff.copy(), False, False
    return _png(output.view(np.uint8).reshape(*output.shape, 4))


def freeze_layout(fig: Figure) -> None:
    """Compute the constrained layout once for the current artists, then keep the axes where they are."""
    fig.draw_without_rendering()
    fig.set_layout_engine("none")


def set_line(line, y, x=None) -> None:
    """New data for a Line2D in place (x kept unless given)."""
    if x is None:
        line.set_ydata(np.asarray(y, dtype=np.float64))
    else:
        line.set_data(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))


def set_label(ax, artist, label: str) -> None:
    """A new label for ``artist`` and for its entry in ``ax``'s legend (same order as the legend's handles)."""
    old = artist.get_label()
    artist.set_label(label)
    leg = ax.get_legend()
    if leg is None:
        return
    for text in leg.get_texts():
        if text.get_text() == old:
            text.set_text(label)
            return


def set_fill(fill, x, y) -> None:
    """New outline for a ``fill_between`` area from 0 to ``y`` over ``x`` (same style, same legend entry)."""
    fill.set_data(np.asarray(x, dtype=np.float64), 0.0, np.asarray(y, dtype=np.float64))


def _kernel_loop():
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class Latest:
    """Coalesces rapid control changes so that only the latest values are computed.

    ``request()`` (the observer of every control) marks the panel stale. With no running event loop (a
    script, a test, a headless benchmark) it runs ``fn`` at once. In a kernel it schedules one ``flush()``
    ``delay`` seconds later (default 0: the loop's next turn, so a key step waits for nothing) and moves that
    time on each new request, so the messages of a drag that queued up meanwhile become one computation with
    the last values (the ipywidgets front end itself holds back a control's messages while the kernel is
    busy). A request made while ``fn`` runs makes ``fn`` run once more after.
    ``requests`` and ``runs`` count both, for tests and benchmarks.
    """

    def __init__(self, fn, delay: float = 0.0):
        if not callable(fn):
            raise TypeError(f"fn must be callable, got {type(fn).__name__}")
        if not (delay >= 0):
            raise ValueError(f"delay must be >= 0 seconds, got {delay!r}")
        self.fn, self.delay = fn, float(delay)
        self.pending = self.running = False
        self.handle = None
        self.requests = self.runs = 0

    def request(self, *_) -> None:
        self.requests += 1
        self.pending = True
        if self.running:
            return
        loop = _kernel_loop()
        if loop is None:
            self.flush()
            return
        if self.handle is not None:
            self.handle.cancel()
        self.handle = loop.call_later(self.delay, self.flush)

    def flush(self) -> None:
        """Run ``fn`` now if a request is pending (again while requests arrive during it)."""
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None
        while self.pending and not self.running:
            self.pending, self.running = False, True
            try:
                self.fn()
                self.runs += 1
            finally:
                self.running = False


@dataclass
class Panel:
    """A notebook panel: controls in ``controls``, an HTML ``readout``, a matplotlib ``fig`` drawn in the
    page by ipympl (``image.value`` renders it to PNG on demand); ``widget`` is the box to display and
    ``update()`` redraws from the controls at once; ``flush()`` runs an update that is still pending."""
    controls: dict            # name -> ipywidget
    readout: W.HTML           # the numbers, as an HTML table
    image: FigureImage        # the figure as PNG, for tests and saving
    fig: Figure               # the figure itself (its axes hold the plotted data)
    widget: W.Box             # what a notebook displays
    update: object            # callable redrawing from the current control values
    state: dict = field(default_factory=dict)  # the latest inputs (e.g. the current Space)
    latest: Latest | None = None
    ahead: object = None      # the work for the next step done while idle (bondlab.widgets.ahead.Ahead), if any

    def flush(self) -> None:
        if self.latest is not None:
            self.latest.flush()

    def idle(self) -> int:
        """Do now what the kernel does while idle between steps (the work :attr:`ahead`); how many jobs ran."""
        return self.ahead.run_pending() if self.ahead is not None else 0


def make_panel(controls: dict, readout: W.HTML, fig: Figure, rows: list, update, state: dict,
               delay: float = 0.0, ahead=None) -> Panel:
    """Wire ``update`` to every control through :class:`Latest`, run it once, freeze the layout and box
    ``rows`` (lists of controls) above the figure and the readout. With ``ahead``
    (:class:`bondlab.widgets.ahead.Ahead`), every update is followed by its queue of work for the next step."""
    def run():
        update()
        ahead.after()

    latest = Latest(update if ahead is None else run, delay)
    for c in controls.values():
        c.observe(latest.request, names="value")
    update()
    freeze_layout(fig)
    if ahead is not None:
        ahead.latest, fig.canvas._bondlab_ahead = latest, ahead
        ahead.after()
    widget = W.VBox([W.HBox(r) for r in rows] + [fig.canvas, readout])
    return Panel(controls, readout, FigureImage(fig), fig, widget, update, state, latest, ahead)
