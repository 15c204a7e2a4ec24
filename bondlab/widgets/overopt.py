"""Notebook 04's panel: train a proxy reward and watch Best-of-N over-optimise it.

Sliders: m (labelled comparisons), label noise, capacity (proxy features), the left mixture weight of
pi_ref, and the seed. Every callback is exact maths: one small Bradley-Terry fit (L-BFGS, a few hundred
pairs at most a few thousand), ~25 exact Best-of-N points, ~25 softmaxes, two linear fits; the lines drawn
at the first update get new data in place and ipympl redraws them in the page. Experiments already run, and
those of every control's next values run while the kernel is idle, come from a cache (:mod:`bondlab.widgets.ahead`). ``overopt_panel().widget`` is what the notebook displays.
"""
from __future__ import annotations

from dataclasses import replace

import ipywidgets as W
import numpy as np
from ..overopt import OveroptConfig, run_overopt
from ..theory import bon_kl_bound
from ..proxy import pairwise_accuracy
from ..plots.overopt import overopt_series, plot_overopt, plot_rewards, rewards_series, rewards_title
from .ahead import Ahead, cached, one_job, values
from .live import Panel, autoscale, live_figure, make_panel, readout_table, set_fill, set_label, set_line, show
from .prefetch import expect, span_limits

__all__ = ["overopt_panel"]


def _unnumbered(label: str) -> str:
    """A legend label of :func:`overopt_series` without the numbers that change with the sliders (the fits'
    a, b and the best N, all in the readout), so the legend is drawn once."""
    return label.split(":")[0].split(" = ")[0]


def overopt_panel(m: int = 100, noise: float = 0.1, capacity: int = 2, weight: float = 0.6, seed: int = 0,
                  features: str = "poly", n_points: int = 40) -> Panel:
    """Sliders for m, noise, capacity, the left weight of pi_ref and the seed. Shows the gold reward against
    the fitted proxy, the gold/proxy curves against d = sqrt KL with Gao et al.'s fits, and a readout of
    the true best N next to the best N read off the fitted curve."""
    base = OveroptConfig(m=m, noise=noise, capacity=capacity, weights=(weight, 1.0 - weight), seed=seed,
                         features=features, n_points=n_points, n_betas=n_points, ks=(), refine=False)
    controls = {
        "m": W.IntSlider(value=m, min=10, max=2000, step=10, description="m (labels)", continuous_update=False),
        "noise": W.FloatSlider(value=noise, min=0.0, max=0.5, step=0.05, description="label noise",
                               continuous_update=False),
        "capacity": W.IntSlider(value=capacity, min=1, max=12, step=1, description="capacity",
                                continuous_update=False),
        "weight": W.FloatSlider(value=weight, min=0.05, max=0.95, step=0.05, description="left weight",
                                continuous_update=False),
        "seed": W.IntSlider(value=seed, min=0, max=50, step=1, description="seed", continuous_update=False),
    }
    cfg_n_max = base.n_max
    fig = live_figure((11, 3.8))
    ax_r, ax_c = fig.subplots(1, 2)
    readout = W.HTML()
    state: dict = {}

    def spans(res):
        """The y spans of both axes: the gold reward's range (the rescaled pi_ref and the compared outcomes lie in
        it too) and [-g, g], where every gold gain lies (d of Best-of-N lies below the KL bound: the x span)."""
        gold = res.space.rewards
        g = float(gold.max() - gold.min())
        return (min(float(gold.min()), -0.05 * float(gold.max())), float(gold.max())), (-g, g)

    def draw(res, shown=True):
        span_r, span_c = spans(res)
        if not ax_r.lines:   # first update: the plot helpers draw; later ones set the same artists' data
            plot_rewards(res, ax=ax_r)
            plot_overopt(res, ax=ax_c)
            # the proxy leaves the spans by a few quarters (most often up to 4 under, 3 over on the left, 2 and 3
            # on the right): those limits are drawn ahead when the page attaches
            expect(ax_r, span_limits(span_r, below=4, above=3))
            expect(ax_c, span_limits(span_c, below=2, above=3))
        lines, (x, area) = rewards_series(res)
        set_fill(ax_r.collections[0], x, area)
        for line, (lx, ly, _, _) in zip(ax_r.lines, lines):
            set_line(line, ly, lx)
        ax_r.set_title(rewards_title(res), fontsize=10)
        autoscale(ax_r, yspan=span_r)
        for line, (lx, ly, label, _) in zip(ax_c.lines, overopt_series(res)):
            if ly is None:
                line.set_xdata(lx)
            else:
                set_line(line, ly, lx)
            set_label(ax_c, line, _unnumbered(label))   # the numbers are in the readout
        autoscale(ax_c, x=True, xspan=(0.0, float(np.sqrt(bon_kl_bound(cfg_n_max)))), yspan=span_c)
        if shown:
            show(fig)

    def config(v):   # exactly the inputs of the experiment
        w = float(v["weight"])
        return replace(base, m=int(v["m"]), noise=float(v["noise"]), capacity=int(v["capacity"]),
                       weights=(w, 1.0 - w), seed=int(v["seed"]))

    def run(cfg):
        res = run_overopt(cfg, quantile=False)
        return res, pairwise_accuracy(res.space.ref_probs, res.space.rewards, res.proxy.rewards)

    def pose(v, shown=False):   # the artists as the update for v sets them (a frame only if shown)
        cfg = config(v)
        res, acc = cached(cache, cfg, lambda: run(cfg))
        draw(res, shown)
        return cfg, res, acc

    def update(*_):
        cfg, res, acc = pose(values(controls), shown=True)
        state["result"] = res
        readout.value = readout_table([
            ("best_n_true", "best N (exact gold, on the N grid)", f"{res.best_n_true}"),
            ("best_n_fit", "best N (fitted d(&alpha; &minus; &beta; d), on the N grid)", f"{res.best_n_fit}"),
            ("gold_true", "gold at best N (true)", f"{res.extra['gold_at_best_true']:.4f}"),
            ("gold_fit", "gold at best N (fit)", f"{res.extra['gold_at_best_fit']:.4f}"),
            ("gold_nmax", f"gold at N = {int(res.bon.param[-1])}", f"{res.bon.gold[-1]:.4f}"),
            ("gold_ref", "gold under &pi;<sub>ref</sub>", f"{res.extra['gold_ref']:.4f}"),
            ("fit_bon", "R<sub>bon</sub> fit &alpha;, &beta;", f"{res.fit_bon.alpha:.3f}, {res.fit_bon.beta:.3f}"),
            ("fit_rl", "R<sub>RL</sub> fit &alpha;, &beta;", f"{res.fit_rl.alpha:.3f}, {res.fit_rl.beta:.3f}"),
            ("flipped", "labels flipped", f"{int(res.proxy.flipped.sum())} of {cfg.m}"),
            ("accuracy", "proxy pairwise accuracy under &pi;<sub>ref</sub>",
             f"{acc:.3f}"),
        ])

    names = list(controls.values())
    cache: dict = {}   # experiments already run, by their config (:func:`bondlab.widgets.ahead.cached`)
    ahead = Ahead(controls, one_job(cache, config, run), pose, fig)
    return make_panel(controls, readout, fig, [names[:3], names[3:]], update, state, ahead=ahead)
