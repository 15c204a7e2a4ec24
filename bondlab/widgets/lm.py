"""Notebook 06's panel: target N, beta, eta, gamma and the learning rate of J-BOND on the tiny GPT.

Moving a slider never trains (training takes seconds to minutes); it redraws the reward-vs-KL figure of a
finished demo run with the chosen N's Best-of-N point and KL bound marked, updates a readout of what that
N asks of J-BOND (the stop quantile N/(N+1), the KL bound log N - (N-1)/N, the Best-of-N reward measured
in the run), and rebuilds ``panel.state["config"]``, the :class:`bondlab.lm.jbond.JBondConfig` the next
training cell uses. Every callback is exact arithmetic and moves one line of the figure drawn once (ipympl
redraws it in the page), so it answers at once. :mod:`bondlab.widgets.train` has the training button.
"""
from __future__ import annotations

import ipywidgets as W
from ..lm.jbond import JBondConfig, quantile_target
from ..plots.lm import plot_reward_vs_kl
from ..theory import bon_kl_bound
from .live import Panel, live_figure, make_panel, readout_table, set_label, show

__all__ = ["jbond_panel"]


def jbond_panel(data: dict, target_n: float = 8.0, beta: float = 0.5, eta: float = 0.05, gamma: float = 0.0,
                lr: float = 3e-4, base: JBondConfig | None = None) -> Panel:
    """Sliders for J-BOND's target N (log scale, 2 to 64), beta, eta, gamma and the learning rate over the
    results ``data`` of :func:`bondlab.lm.demo.run_demo` (``result.data``). ``base`` supplies the other
    config fields (steps, batch size) of ``state["config"]``."""
    if not isinstance(data, dict) or "methods" not in data or "history" not in data:
        raise ValueError("data must be the dict run_demo returns as result.data (with 'methods' and 'history')")
    base = base or JBondConfig()
    controls = {
        "target_n": W.FloatLogSlider(value=target_n, base=2, min=1, max=6, step=0.5, description="target N",
                                     readout_format=".3g"),
        "beta": W.FloatSlider(value=beta, min=0.0, max=1.0, step=0.05, description="beta"),
        "eta": W.FloatLogSlider(value=eta, base=10, min=-3, max=0, step=0.1, description="eta",
                                readout_format=".3g"),
        "gamma": W.FloatSlider(value=gamma, min=0.0, max=4.0, step=0.25, description="gamma"),
        "lr": W.FloatLogSlider(value=lr, base=10, min=-5, max=-2, step=0.1, description="lr", readout_format=".1e"),
    }
    fig = live_figure((7, 4.4))
    ax = fig.subplots()
    readout = W.HTML()
    state: dict = {}

    def update(*_):
        n = float(controls["target_n"].value)
        b, e, g, lr_ = (float(controls[k].value) for k in ("beta", "eta", "gamma", "lr"))
        state["config"] = JBondConfig(**{**base.__dict__, "target_n": n, "beta": b, "eta": e, "gamma": g, "lr": lr_})
        if not ax.lines:   # first update: the whole figure; later ones move the bound line only
            plot_reward_vs_kl(data, ax=ax, highlight_n=n)
            set_label(ax, ax.lines[-1], "KL bound at the target N")   # N is in the title: the legend stays
        if state.get("shown_n") != n:   # the other sliders set the next training's config, not the figure
            ax.lines[-1].set_xdata([float(bon_kl_bound(n))] * 2)
            ax.set_title(f"reward vs KL: Best-of-N, J-BOND, REINFORCE (target N={n:g})", fontsize=10)
            state["shown_n"] = n
            show(fig)
        bon = data["methods"].get(f"bon_{n:g}")
        objective = "forward only (SFT on the better anchor sample)" if b == 0 else \
            "backward only (policy gradient)" if b == 1 else f"{1 - b:.2f} forward + {b:.2f} backward"
        readout.value = readout_table([
            ("target_n", "target N", f"{n:.4g}"),
            ("quantile_target", "stop at E[p<sub>&le;</sub>] = N/(N+1)", f"{quantile_target(n):.4f}"),
            ("kl_bound", "Best-of-N KL bound log N &minus; (N&minus;1)/N", f"{float(bon_kl_bound(n)):.4f}"),
            ("bon_reward", "Best-of-N gold reward in this run", f"{bon['reward']:.3f}" if bon else "not run"),
            ("objective", "objective", objective),
            ("anchor", "EMA anchor averages the last", f"~{1 / e:.0f} steps" if e > 0 else "never moves"),
            ("gamma", "regulariser", f"{g:g} &middot; KL(&pi; &#8214; &pi;<sub>anchor</sub>), descent sign"),
            ("lr", "learning rate", f"{lr_:.1e}"),
        ])

    return make_panel(controls, readout, fig, [[controls["target_n"], controls["beta"], controls["eta"]],
                                               [controls["gamma"], controls["lr"]]], update, state)
