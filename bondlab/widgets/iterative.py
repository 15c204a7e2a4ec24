"""Notebook 05's panel: iterative BOND (hard anchor every T steps, or EMA) and J-BOND, exact gradients.

Sliders: n, the anchor mode and period T (or EMA rate eta), J-BOND's gamma and beta. Each change runs
an exact iterative-BOND run (3 rounds) and an exact J-BOND run on a 61-point grid (well under a second)
and redraws the quantile and KL to pi_ref against step with markers at Best-of-n^M, and J-BOND's KL to
its anchor (Sessa et al. 2024, Sec. 4.3 and Algorithm 2).
"""
from __future__ import annotations

import ipywidgets as W
import numpy as np
from matplotlib.figure import Figure

from ..jbond import IterativeConfig, JBondConfig, train_iterative, train_jbond
from ..plots.distill import plot_history, plot_quantile_vs_step
from ..spaces import grid_mixture
from .bon import Panel, figure_png, readout_table

__all__ = ["iterative_panel", "ROUNDS"]

ROUNDS = 3  # hard-anchor rounds M per run: the target climbs to Best-of-n^3


def iterative_panel(n: int = 2, mode: str = "hard", period: int = 100, eta: float = 0.05, gamma: float = 0.5,
                    beta: float = 0.5, jbond_steps: int = 200, k: int = 61) -> Panel:
    """Returns a :class:`bondlab.widgets.bon.Panel`. ``state`` holds ``space``, ``iterative`` and
    ``jbond`` histories. Axes: [0] quantile vs step (iterative), [1] KL(pi || pi_ref) vs step (iterative),
    [2] J-BOND KL(pi || pi_anchor) vs step, [3] J-BOND quantile vs step."""
    if mode not in ("hard", "ema"):
        raise ValueError(f"mode must be 'hard' or 'ema', got {mode!r}")
    controls = {
        "n": W.IntSlider(value=n, min=2, max=4, description="n"),
        "mode": W.ToggleButtons(options=["hard", "ema"], value=mode, description="anchor"),
        "period": W.IntSlider(value=period, min=10, max=300, step=10, description="period T"),
        "eta": W.FloatSlider(value=eta, min=0.005, max=0.3, step=0.005, description="η (EMA)", readout_format=".3f"),
        "gamma": W.FloatSlider(value=gamma, min=0.0, max=4.0, step=0.25, description="γ (J-BOND)"),
        "beta": W.FloatSlider(value=beta, min=0.0, max=1.0, step=0.05, description="β"),
    }
    for c in controls.values():
        c.continuous_update = False
    space = grid_mixture(k=k, weights=(0.6, 0.4), reward="linear")
    fig = Figure(figsize=(12, 6), layout="constrained")
    axes = fig.subplots(2, 2).ravel()
    readout, image, state = W.HTML(), W.Image(format="png"), {"space": space}

    def update(*_):
        n_, period_, eta_ = int(controls["n"].value), int(controls["period"].value), float(controls["eta"].value)
        beta_, gamma_ = float(controls["beta"].value), float(controls["gamma"].value)
        ema = controls["mode"].value == "ema"
        _, hi = train_iterative(space, IterativeConfig(n=n_, rounds=ROUNDS, period=period_, eta=eta_ if ema else 0.0,
                                                       beta=beta_, lr=0.1))
        _, hj = train_jbond(space, JBondConfig(beta=beta_, gamma=gamma_, eta=eta_, gradient="exact",
                                               steps=jbond_steps, lr=0.05))
        state.update(iterative=hi, jbond=hj)
        for ax in axes:
            ax.clear()
        marks = [float(n_) ** m for m in range(1, ROUNDS + 1)]
        label = f"EMA η={eta_:g}" if ema else f"hard anchor every {period_}"
        plot_quantile_vs_step(hi, space, bon_ns=marks, label=label, ax=axes[0])
        axes[0].set_title(f"iterative BOND, n={n_}: quantile", fontsize=10)
        plot_quantile_vs_step(hi, space, key="kl_ref", bon_ns=marks, label=label, ax=axes[1])
        axes[1].set_title("KL to π_ref (markers: Best-of-n^M)", fontsize=10)
        plot_history({f"J-BOND γ={gamma_:g}": hj}, "kl_anchor", ax=axes[2])
        axes[2].set_title(f"J-BOND (η={eta_:g}, β={beta_:g}): KL to the anchor", fontsize=10)
        plot_quantile_vs_step(hj, space, bon_ns=(2, 4, 8, 16), label=f"J-BOND γ={gamma_:g}", ax=axes[3])
        axes[3].set_title("J-BOND: quantile", fontsize=10)
        image.value = figure_png(fig)
        readout.value = readout_table([
            ("it_quantile", "iterative: final E<sub>π</sub>[p≤]", f"{hi['quantile'][-1]:.4f}"),
            ("it_kl_ref", "iterative: final KL(π &#8214; π<sub>ref</sub>)", f"{hi['kl_ref'][-1]:.4f}"),
            ("it_bon_n", "Best-of-n<sup>M</sup> reached by hard rounds",
             ", ".join(f"{v:g}" for v in hi["bon_equivalent_n"]) or "— (EMA: no hard rounds)"),
            ("jb_quantile", "J-BOND: final E<sub>π</sub>[p≤]", f"{hj['quantile'][-1]:.4f}"),
            ("jb_kl_ref", "J-BOND: final KL(π &#8214; π<sub>ref</sub>)", f"{hj['kl_ref'][-1]:.4f}"),
            ("jb_kl_anchor", "J-BOND: mean KL(π &#8214; π<sub>anchor</sub>)", f"{np.mean(hj['kl_anchor']):.5f}"),
        ])

    for c in controls.values():
        c.observe(update, names="value")
    update()
    widget = W.VBox([W.HBox([controls["n"], controls["mode"], controls["period"]]),
                     W.HBox([controls["eta"], controls["gamma"], controls["beta"]]), image, readout])
    return Panel(controls, readout, image, fig, widget, update, state)
