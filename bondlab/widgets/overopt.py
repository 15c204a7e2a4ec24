"""Notebook 04's panel: train a proxy reward and watch Best-of-N over-optimise it.

Sliders: m (labelled comparisons), label noise, capacity (proxy features), the left mixture weight of
pi_ref, and the seed. Every callback is exact maths: one small Bradley-Terry fit (L-BFGS, a few hundred
pairs at most a few thousand), ~25 exact Best-of-N points, ~25 softmaxes, two linear fits, one PNG, so the
sliders answer at once. ``overopt_panel().widget`` is what the notebook displays.
"""
from __future__ import annotations

from dataclasses import replace

import ipywidgets as W
from matplotlib.figure import Figure

from ..overopt import OveroptConfig, run_overopt
from ..proxy import pairwise_accuracy
from ..plots.overopt import plot_overopt, plot_rewards
from .bon import Panel, figure_png, readout_table

__all__ = ["overopt_panel"]


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
    fig = Figure(figsize=(11, 3.8), layout="constrained")
    ax_r, ax_c = fig.subplots(1, 2)
    readout = W.HTML()
    image = W.Image(format="png")
    state: dict = {}

    def update(*_):
        w = float(controls["weight"].value)
        cfg = replace(base, m=int(controls["m"].value), noise=float(controls["noise"].value),
                      capacity=int(controls["capacity"].value), weights=(w, 1.0 - w), seed=int(controls["seed"].value))
        res = run_overopt(cfg, quantile=False)
        state["result"] = res
        ax_r.clear()
        ax_c.clear()
        plot_rewards(res, ax=ax_r)
        plot_overopt(res, ax=ax_c)
        image.value = figure_png(fig)
        sp = res.space
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
             f"{pairwise_accuracy(sp.ref_probs, sp.rewards, res.proxy.rewards):.3f}"),
        ])

    for c in controls.values():
        c.observe(update, names="value")
    update()
    widget = W.VBox([W.HBox(list(controls.values())[:3]), W.HBox(list(controls.values())[3:]), image, readout])
    return Panel(controls, readout, image, fig, widget, update, state)
