"""What every panel shares (bondlab.widgets.live): updates change the artists already drawn, in place, with
the layout fixed after the first draw, and rapid control changes coalesce so only the latest is computed."""
import asyncio

import numpy as np
import pytest

from bondlab.widgets.bon import bon_panel
from bondlab.widgets.distill import distill_panel
from bondlab.widgets.live import Latest
from bondlab.widgets.overopt import overopt_panel
from bondlab.widgets.quantiles import quantile_panel
from helpers import readout


def artists(panel):
    return [(id(ax), [id(a) for a in ax.lines + ax.collections + ax.texts], ax.get_position().bounds)
            for ax in panel.fig.axes]


@pytest.mark.parametrize("make, name, value", [
    (lambda: bon_panel(), "n", 64.0), (lambda: bon_panel(), "weight", 0.2),
    (lambda: quantile_panel(), "k", 40), (lambda: overopt_panel(), "m", 300),
    (lambda: distill_panel(steps=20), "beta", 0.9)])
def test_update_sets_data_on_the_same_artists_with_a_fixed_layout(make, name, value):
    panel = make()
    before = artists(panel)
    ys = [np.array(ln.get_ydata(), dtype=float).copy() for ax in panel.fig.axes for ln in ax.lines]
    panel.controls[name].value = value
    assert artists(panel) == before     # same axes, same Line2D / collections / texts, same positions
    after = [np.asarray(ln.get_ydata(), dtype=float) for ax in panel.fig.axes for ln in ax.lines]
    assert any(a.shape != b.shape or not np.allclose(a, b) for a, b in zip(after, ys))


def test_the_legend_follows_a_changed_label():
    from matplotlib.figure import Figure
    from bondlab.widgets.live import set_label
    ax = Figure().subplots()
    a, b = ax.plot([0, 1], [0, 1], label="N=8")[0], ax.plot([0, 1], [1, 0], label="other")[0]
    ax.legend()
    set_label(ax, a, "N=32")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["N=32", "other"] and a.get_label() == "N=32"


def test_numbers_that_move_with_a_slider_are_in_titles_not_legends():
    """A legend is drawn once (an opaque layer pasted on every frame): the changing numbers go in titles."""
    panel = bon_panel(n=8)
    legend = [t.get_text() for t in panel.fig.axes[0].get_legend().get_texts()]
    panel.controls["n"].value = 32.0
    assert [t.get_text() for t in panel.fig.axes[0].get_legend().get_texts()] == legend
    assert "N=32" in panel.fig.axes[0].get_title() and "N=32" in panel.fig.axes[1].get_title()


def test_without_an_event_loop_each_request_runs_at_once():
    seen = []
    latest = Latest(lambda: seen.append(len(seen)))
    latest.request()
    latest.request()
    assert seen == [0, 1] and latest.runs == 2 and latest.requests == 2


def test_in_a_kernel_loop_a_burst_of_requests_computes_the_latest_value_once():
    panel = bon_panel(n=8)
    calls = []
    inner = panel.latest.fn
    panel.latest.fn = lambda: (calls.append(float(panel.controls["n"].value)), inner())

    async def drag():
        for e in np.arange(3.05, 3.55, 0.05):     # ten slider steps arriving faster than the debounce delay
            panel.controls["n"].value = 2.0 ** e
        assert calls == []                         # nothing computed yet: the flush is scheduled
        await asyncio.sleep(panel.latest.delay + 0.2)

    asyncio.run(drag())
    assert calls == [pytest.approx(2.0 ** 3.5)]    # one computation, with the last value
    assert readout(panel)["n"] == pytest.approx(2.0 ** 3.5, rel=1e-3)


def test_a_request_during_an_update_runs_it_once_more():
    latest = None
    seen = []

    def fn():
        seen.append(1)
        if len(seen) == 1:
            latest.request()   # e.g. a callback that moves another control

    latest = Latest(fn)
    latest.request()
    assert len(seen) == 2 and latest.runs == 2


@pytest.mark.parametrize("kwargs, match", [(dict(fn=None), "fn"), (dict(fn=print, delay=-1), "delay")])
def test_bad_arguments(kwargs, match):
    with pytest.raises((TypeError, ValueError), match=match):
        Latest(**kwargs)


def _pixels(fig):
    return np.asarray(fig.canvas.get_renderer().buffer_rgba()).copy()


def _off_frame(fig, differ):
    """How many of the ``differ`` pixels lie more than 4 px from every axes' frame (where data and spines
    cross) and from every legend's frame (anti-aliased edges)."""
    h, keep = differ.shape[0], np.ones_like(differ)
    boxes = [ax.bbox.extents for ax in fig.axes]
    boxes += [ax.get_legend().get_window_extent().extents for ax in fig.axes if ax.get_legend() is not None]
    for x0, y0, x1, y1 in boxes:
        for x in (x0, x1):
            keep[max(int(h - y1) - 4, 0):int(h - y0) + 5, max(int(x) - 4, 0):int(x) + 5] = False
        for y in (y0, y1):
            keep[max(int(h - y) - 4, 0):int(h - y) + 5, max(int(x0) - 4, 0):int(x1) + 5] = False
    return int((differ & keep).sum())


@pytest.mark.parametrize("make, name, values", [
    (lambda: bon_panel(), "weight", (0.55, 0.5)), (lambda: quantile_panel(), "k", (17, 18)),
    (lambda: distill_panel(steps=20), "beta", (0.55, 0.6)), (lambda: bon_panel(), "n", (20.0, 300.0, 20.0)),
    (lambda: distill_panel(steps=20), "n", (12, 2, 12)), (lambda: _iterative(), "n", (4, 3, 4)),
    (lambda: overopt_panel(), "m", (600, 100, 600))])
def test_a_blitted_frame_shows_what_a_full_draw_shows(make, name, values):
    """With a page attached, frames reuse the drawn background; the picture must be a full Agg draw's,
    pixel for pixel, except where data cross the axes' frame (drawn over it, not under it) and on the
    anti-aliased edge of a legend (drawn over data that a full draw puts under the spines). The values move
    some axes' limits and come back, so axes are drawn again alone and restored from the cache."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from bondlab.widgets.frames import blit_frame
    panel = make()
    panel.fig.canvas.syncing_data_url = False      # as when ipympl's front end has said it is there
    blit_frame(panel.fig)
    for v in values:
        panel.controls[name].value = v              # the update blits (live.show)
        blit_frame(panel.fig)
        blitted = _pixels(panel.fig)
        FigureCanvasAgg.draw(panel.fig.canvas)
        full = _pixels(panel.fig)
        differ = (blitted != full).any(-1)
        assert _off_frame(panel.fig, differ) == 0
    assert blit_frame(panel.fig)                    # nothing moved: the background is reused


@pytest.mark.parametrize("make, name, values, ahead, least", [
    (lambda: distill_panel(steps=20), "n", (17, 32, 9), [0], 30),
    (lambda: overopt_panel(), "m", (110, 120, 100, 30), [0, 1], 28),
    (lambda: _iterative(), "n", (3, 4, 2, 4), [0, 1], 8), (lambda: _iterative(), "period", (20, 10), [0, 1], 8)])
def test_limits_drawn_ahead_are_pasted_and_show_what_a_full_draw_shows(make, name, values, ahead, least):
    """The limits a panel expects (notebook 03: every N's; 04: its spans widened by a few quarters; 05: every
    n's, with that n's markers, and the steps axis's next rungs) are drawn when the page attaches (``prepare``); a step that moves an axes to
    them draws no axes, and the picture is a full Agg draw's, as in the test above (so the markers put in
    place for the drawing ahead were put back). The values were chosen to move those axes' limits."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from bondlab.widgets.frames import _axes_key, prepare
    panel = make()
    fig = panel.fig
    fig.canvas.syncing_data_url = False
    keys = [_axes_key(ax) for ax in fig.axes]
    prepare(fig)
    bg = fig.canvas._bondlab_background
    assert [_axes_key(ax) for ax in fig.axes] == keys   # limits and markers as they were
    assert len(bg.pinned) >= least
    drawn, keep = [], bg._keep
    bg._keep = lambda i, key: (drawn.append(i), keep(i, key))   # every axes drawn anew passes here
    for v in values:
        before = [ax.get_xlim() + ax.get_ylim() for ax in fig.axes]
        panel.controls[name].value = v              # the update blits (live.show)
        moved = [i for i in ahead if fig.axes[i].get_xlim() + fig.axes[i].get_ylim() != before[i]]
        assert moved and not set(moved) & set(drawn), (v, moved, drawn)
        blitted = _pixels(fig)
        FigureCanvasAgg.draw(fig.canvas)
        assert _off_frame(fig, (blitted != _pixels(fig)).any(-1)) == 0


def test_in_a_kernel_loop_limits_are_drawn_ahead_one_per_turn_and_a_step_in_between_is_served():
    """With the kernel's loop, ``prepare`` draws one expected background per turn: a slider step that arrives
    meanwhile runs between two of them (its frame is exact), and all of them are there in the end."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from bondlab.widgets.frames import prepare
    panel = distill_panel(steps=20)
    fig = panel.fig
    fig.canvas.syncing_data_url = False
    wanted = len(fig.axes[0]._bondlab_expected)
    seen, inner = {}, panel.latest.fn

    def update_then_look():                         # the frame as sent, then a full draw of the same state
        inner()
        seen["pinned at the step"] = len(fig.canvas._bondlab_background.pinned)
        seen["frame"] = _pixels(fig)
        FigureCanvasAgg.draw(fig.canvas)
        seen["full"] = _pixels(fig)

    panel.latest.fn = update_then_look

    async def attach_then_step():
        prepare(fig, asyncio.get_running_loop())
        await asyncio.sleep(0)
        panel.controls["n"].value = 9               # served on the loop's next turns, between two drawings
        for _ in range(wanted + 3):
            await asyncio.sleep(0)

    asyncio.run(attach_then_step())
    bg = fig.canvas._bondlab_background
    pinned = len(bg.pinned)
    assert 0 < seen["pinned at the step"] < pinned
    assert pinned + sum(k[0] == 0 for k in bg.cache) >= wanted   # the first N's and N = 9's were drawn as usual
    assert fig.axes[0].get_title().startswith("Best-of-9 ")
    assert _off_frame(fig, (seen["frame"] != seen["full"]).any(-1)) == 0


def _iterative():
    from bondlab.widgets.iterative import iterative_panel
    return iterative_panel(period=10, jbond_steps=10)


def test_iterative_markers_and_their_labels_move_together():
    from bondlab.widgets.iterative import iterative_panel
    panel = iterative_panel(period=10, jbond_steps=10)
    panel.controls["n"].value = 4
    ax = panel.fig.axes[0]
    for line, text in zip(ax.lines[1:4], ax.texts):
        assert text.get_text() in ("BoN 4", "BoN 16", "BoN 64")
        assert text.xyann[1] == text.xy[1] == line.get_ydata()[0]


def test_when_the_page_attaches_the_background_is_drawn_before_the_first_step():
    from bondlab.widgets.frames import blit_frame
    panel = bon_panel()
    panel.fig.canvas._handle_custom_msg({"type": "initialized"}, [])   # what ipympl's front end sends first
    assert panel.fig.canvas.syncing_data_url is False
    assert len(panel.fig.canvas._bondlab_background.labels) == 4   # two titles, two legends: ready to paste
    assert blit_frame(panel.fig)          # the first frame finds the background drawn: nothing drawn again


def test_spanned_limits_stay_put_while_the_data_stay_inside_and_grow_by_quarters():
    from matplotlib.figure import Figure
    from bondlab.widgets.frames import autoscale
    ax = Figure().subplots()
    line, = ax.plot([0, 1], [0.2, 0.5])
    autoscale(ax, yspan=(0.0, 2.0))
    assert ax.get_ylim() == pytest.approx((-0.1, 2.1))            # the span with 5% margins
    line.set_ydata([0.0, 1.9])
    autoscale(ax, yspan=(0.0, 2.0))
    assert ax.get_ylim() == pytest.approx((-0.1, 2.1))            # inside: unchanged
    line.set_ydata([0.0, 2.3])
    autoscale(ax, yspan=(0.0, 2.0))
    assert ax.get_ylim() == pytest.approx((-0.125, 2.625))        # one quarter (0.5) more above, then margins
    ax.set_yscale("log")
    line.set_ydata([0.03, 7.0])
    autoscale(ax, yspan="decades")
    assert ax.get_ylim() == pytest.approx((0.01, 10.0))


def test_span_limits_are_the_limits_autoscale_sets_and_a_flat_span_is_refused():
    """What a panel asks to be drawn ahead must be, float for float, what autoscale later sets (else the kept
    backgrounds would never be found): data leaving the span by up to 2 quarters below and 3 above."""
    from matplotlib.figure import Figure
    from bondlab.widgets.frames import autoscale
    from bondlab.widgets.prefetch import span_limits
    span = (-0.05, 1.0)
    ahead, q = span_limits(span, below=2, above=3), 0.25 * 1.05
    assert len(ahead) == 12 == len(set(ahead))
    ax = Figure().subplots()
    line, = ax.plot([0, 1], [0.2, 0.5])
    for i in range(3):
        for j in range(4):
            for f in (0.1, 0.9):                     # anywhere inside the quarter
                line.set_ydata([span[0] - (i - 1 + f) * q if i else 0.0, span[1] + (j - 1 + f) * q if j else 0.5])
                autoscale(ax, yspan=span)
                assert ax.get_ylim() == ahead[4 * i + j]
    with pytest.raises(ValueError, match="span"):
        span_limits((1.0, 1.0))
    from bondlab.widgets.prefetch import expect
    with pytest.raises(ValueError, match="xlims"):
        expect(ax, ahead, xlims=[None])


def test_the_frames_png_decodes_to_its_pixels():
    """The hand-written PNG of a frame (no row filter) read back by Pillow: noise, a mostly transparent diff,
    odd sizes, one pixel."""
    import io
    from PIL import Image
    from bondlab.widgets.live import _png
    rng = np.random.default_rng(0)
    sparse = np.zeros((40, 31, 4), dtype=np.uint8)
    sparse[5:9, 3:20] = rng.integers(0, 256, size=(4, 17, 4), dtype=np.uint8)
    for img in (rng.integers(0, 256, size=(17, 23, 4), dtype=np.uint8), sparse, np.full((1, 1, 4), 7, np.uint8)):
        back = Image.open(io.BytesIO(_png(img)))
        assert back.mode == "RGBA" and np.array_equal(np.asarray(back), img)


def test_the_frame_sent_is_matplotlibs_diff_image_pixel_for_pixel():
    """live_figure's canvas encodes its diff PNG faster; decoded, it is matplotlib's own diff image."""
    import io
    from matplotlib.backends.backend_webagg_core import FigureCanvasWebAggCore
    from PIL import Image
    panel = bon_panel()
    canvas = panel.fig.canvas
    canvas.syncing_data_url = False
    panel.controls["n"].value = 20.0            # a blitted frame; its diff was sent
    last = canvas._last_buff.copy()
    panel.controls["weight"].value = 0.3        # another: diffed below against the one before
    canvas._last_buff, canvas._png_is_old = last, True
    ours = canvas.get_diff_image()
    canvas._last_buff, canvas._png_is_old = last, True
    theirs = FigureCanvasWebAggCore.get_diff_image(canvas)
    decode = lambda png: np.asarray(Image.open(io.BytesIO(png)))
    assert ours is not None and theirs is not None
    np.testing.assert_array_equal(decode(ours), decode(theirs))
    alpha = decode(ours)[..., 3]
    assert (alpha == 0).any() and (alpha == 255).any()   # a diff: changed pixels, unchanged ones transparent
