"""Work done ahead while the kernel is idle (bondlab.widgets.ahead): the next values' maths and backgrounds.
A step to a value computed ahead must show exactly what computing it then shows; the idle work must leave
the figure as it was; it runs one job per turn of the event loop and a new request drops it."""
import ipywidgets as W
import numpy as np
import pytest

import bondlab.widgets.iterative as iterative_mod
import bondlab.widgets.live as live_mod
from bondlab.widgets.ahead import Ahead, _plain, neighbours, values
from bondlab.widgets.bon import bon_panel
from bondlab.widgets.distill import distill_panel
from bondlab.widgets.iterative import iterative_panel
from bondlab.widgets.overopt import overopt_panel
from test_widgets_live import _off_frame, _pixels


def _iterative():
    return iterative_panel(period=40, jbond_steps=60)


def shown(panel):
    """Everything a step shows but the limits (which may follow the path taken): the artists' data, the
    titles, the static markers' texts, the readout."""
    out = []
    for ax in panel.fig.axes:
        out.append(ax.get_title())
        out += [np.asarray(ln.get_xydata(), dtype=float).tobytes() for ln in ax.lines]
        out += [t.get_text() for t in ax.texts]
        out += [np.asarray(p.vertices).tobytes() for c in ax.collections for p in c.get_paths()]
    return out + [panel.readout.value]


def posed(panel):
    """``shown`` and the limits of every axes: what the idle work must put back."""
    return shown(panel) + [(ax.get_xlim(), ax.get_ylim()) for ax in panel.fig.axes]


def test_plain_values_and_neighbours():
    assert _plain(0.1 + 0.05) == 0.15 and _plain(3) == 3 and _plain("ema") == "ema"
    controls = {"b": W.FloatSlider(value=0.95, min=0.0, max=1.0, step=0.05),
                "n": W.IntSlider(value=10, min=10, max=300, step=10),
                "m": W.ToggleButtons(options=["hard", "ema"], value="hard")}
    now = values(controls)
    assert now == {"b": 0.95, "n": 10, "m": "hard"}
    # b moved down last: its step down first; at an end, one side only; the options' other value
    got = neighbours(controls, now, {"b": 1.0, "n": 10, "m": "hard"})
    assert got == [{**now, "b": 0.9}, {**now, "b": 1.0}, {**now, "n": 20}, {**now, "m": "ema"}]
    log = {"n": W.FloatLogSlider(value=8.0, base=2, min=0, max=3, step=0.5)}
    assert neighbours(log, values(log)) == [{"n": _plain(2 ** 2.5)}]   # at the top: one step down only


def test_headless_nothing_runs_until_asked():
    panel = distill_panel(steps=20)
    for v in (0.55, 0.6):
        panel.controls["beta"].value = v
    assert panel.ahead.jobs == 0 and len(panel.ahead.queue) > 0    # queued, not run
    ran = panel.idle()
    assert ran > 0 and panel.ahead.jobs == ran and not panel.ahead.queue


@pytest.mark.parametrize("make, steps", [
    (_iterative, [("gamma", 0.75), ("beta", 0.55), ("mode", "ema"), ("period", 50), ("eta", 0.055)]),
    (lambda: distill_panel(steps=20), [("beta", 0.55), ("n", 5), ("weight", 0.45), ("family", "tabular")]),
    (lambda: overopt_panel(), [("m", 110), ("noise", 0.15), ("seed", 1), ("weight", 0.55)]),
    (lambda: bon_panel(), [("n", 8.0 * 2 ** 0.05), ("weight", 0.65), ("reward", "steps")])])
def test_a_step_to_a_value_computed_ahead_shows_what_computing_it_then_shows(make, steps):
    """Each step goes to a neighbour of the values before it, after the idle work; a fresh panel set to the
    final values directly (no idle work) must show the same numbers, bit for bit, at every step."""
    panel = make()
    for name, v in steps:
        panel.idle()
        panel.controls[name].value = v
        fresh = make()
        for k, c in panel.controls.items():
            fresh.controls[k].value = c.value
        assert shown(panel) == shown(fresh)


def test_the_iterative_panel_steps_to_a_neighbour_without_running_anything(monkeypatch):
    calls = []
    for name in ("iterative_exact", "jbond_exact"):
        f = getattr(iterative_mod, name)
        monkeypatch.setattr(iterative_mod, name, lambda *a, f=f, name=name, **k: (calls.append(name), f(*a, **k))[1])
    panel = _iterative()
    panel.idle()
    assert "iterative_exact" in calls and "jbond_exact" in calls   # the neighbours' runs, done while idle
    for name, v in (("beta", 0.55), ("mode", "ema"), ("period", 30)):
        calls.clear()
        panel.controls[name].value = v
        assert calls == []              # computed ahead: the step runs nothing
        panel.idle()


@pytest.mark.parametrize("make, name, values", [
    (_iterative, "gamma", (0.75, 1.0, 1.25, 1.5, 1.75, 2.0)), (_iterative, "mode", ("ema", "hard")),
    (lambda: distill_panel(steps=20), "weight", (0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85)),
    (lambda: bon_panel(), "weight", (0.55, 0.5, 0.45)),
    (lambda: bon_panel(), "reward", ("bump", "steps", "two_peaks", "linear"))])
def test_the_idle_work_puts_the_figure_back_and_its_backgrounds_are_a_full_draws(make, name, values):
    """With a page attached: the idle work (posing the figure for each neighbour, drawing the axes they move)
    leaves data, titles and limits as they were; a step to a neighbour then draws no axes (redraw True) and
    its frame is the frame of a twin without idle work (which draws some axes on its steps) and a full Agg
    draw's, pixel for pixel away from the axes' and legends' frames (as in test_widgets_live)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from bondlab.widgets.frames import prepare
    panels = [make(), make()]
    for p in panels:
        p.fig.canvas.syncing_data_url = False
        prepare(p.fig)
    drew = {0: 0, 1: 0}
    for v in values:
        for j, p in enumerate(panels):
            if j == 0:
                before = posed(p)
                p.idle()
                assert posed(p) == before
            bg = p.fig.canvas._bondlab_background
            redraw = bg.redraw
            reused = []
            bg.redraw = lambda fig, redraw=redraw, reused=reused: reused.append(redraw(fig)) or reused[-1]
            p.controls[name].value = v
            del bg.redraw
            drew[j] += reused.count(False)
        assert drew[0] == 0
        blitted = [_pixels(p.fig) for p in panels]
        # drawn ahead or on the step: the same frame (but where data cross an axes' frame, as below)
        assert _off_frame(panels[0].fig, (blitted[0] != blitted[1]).any(-1)) == 0
        FigureCanvasAgg.draw(panels[0].fig.canvas)
        assert _off_frame(panels[0].fig, (blitted[0] != _pixels(panels[0].fig)).any(-1)) == 0
    assert panels[0].ahead.drawn > 0 and drew[1] > 0   # the idle work drew what the cold twin had to draw


class FakeLoop:
    """An event loop run by hand: ``turn()`` runs the callbacks ready at its start (those they schedule wait
    for the next turn), as asyncio does."""

    def __init__(self):
        self.ready = []

    class Handle:
        def __init__(self, fn, args):
            self.fn, self.args, self.cancelled = fn, args, False

        def cancel(self):
            self.cancelled = True

    def call_soon(self, fn, *args):
        h = self.Handle(fn, args)
        self.ready.append(h)
        return h

    def call_later(self, delay, fn, *args):
        return self.call_soon(fn, *args)

    def turn(self):
        now, self.ready = self.ready, []
        for h in now:
            if not h.cancelled:
                h.fn(*h.args)


def test_in_a_kernel_one_job_per_turn_and_a_new_request_drops_the_queue(monkeypatch):
    panel = distill_panel(steps=20)
    loop = FakeLoop()
    monkeypatch.setattr(live_mod, "_kernel_loop", lambda: loop)
    panel.controls["beta"].value = 0.55      # Latest schedules the update
    assert panel.ahead.jobs == 0
    loop.turn()                               # the update; it queues the neighbours' work, starting next turn
    assert panel.ahead.now["beta"] == 0.55 and panel.ahead.jobs == 0
    queued = len(panel.ahead.queue)
    for k in range(1, 4):
        loop.turn()
        assert panel.ahead.jobs == k and len(panel.ahead.queue) == queued - k   # one job per turn
    panel.controls["n"].value = 5             # a slider message: the next turn's job is dropped, then the update
    loop.turn()
    assert panel.ahead.jobs == 3 and panel.ahead.now["n"] == 5
    assert panel.ahead.queue and len(loop.ready) == 1   # a new queue, its first job on the next turn
    while loop.ready:
        loop.turn()
    assert not panel.ahead.queue and panel.ahead.jobs > 3


def test_bad_arguments():
    with pytest.raises(TypeError, match="callable"):
        Ahead({}, None, print)


def test_on_a_running_asyncio_loop_the_queue_drains_between_turns():
    import asyncio
    panel = distill_panel(steps=20)

    async def step():
        panel.controls["beta"].value = 0.55
        for _ in range(500):                  # turns of the loop: the update, then one job each
            await asyncio.sleep(0)
            if panel.ahead.jobs and not panel.ahead.queue:
                break

    asyncio.run(step())
    assert panel.latest.runs == 1 and panel.ahead.now["beta"] == 0.55
    assert panel.ahead.jobs > 0 and not panel.ahead.queue


def test_when_the_page_attaches_the_backgrounds_skipped_before_are_drawn():
    """Before the page is there the background jobs have nothing to draw into; its "initialized" message makes
    the queue anew after the background is drawn, and a step to a neighbour then draws no axes."""
    panel = bon_panel()
    panel.idle()
    assert panel.ahead.drawn == 0                                   # no page: nothing drawn
    canvas = panel.fig.canvas
    canvas.syncing_data_url = False
    canvas._msg_callbacks(canvas, {"type": "initialized"}, [])      # what ipympl's page sends when it is there
    assert canvas._bondlab_background is not None and panel.ahead.queue
    panel.idle()
    assert panel.ahead.drawn > 0
    bg = canvas._bondlab_background
    redraw, reused = bg.redraw, []
    bg.redraw = lambda fig: reused.append(redraw(fig)) or reused[-1]
    panel.controls["reward"].value = "bump"
    assert reused == [True]
