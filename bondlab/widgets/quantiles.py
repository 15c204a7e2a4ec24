"""Notebook 02's panel: estimated quantiles from k reference samples, and the Best-of-N target they give.

Sliders for k and N. The plot shows the exact quantile p_le against one seeded estimate p_hat_le, and the
target pi_ref p_hat_le^(N-1) against the same form with exact quantiles (and the exact pi_BoN). The
readout gives the TV error of that draw and its mean over a few seeded draws (Sessa et al. 2024, Sec. 4.2).
The only sampling is ``reps`` draws of k reference samples on a 101-point grid: a few milliseconds; the
lines drawn at the first update get new data in place and ipympl redraws them in the page.
"""
from __future__ import annotations

import ipywidgets as W
import numpy as np
from ..bon import bon_probs, quantiles
from ..divergences import tv
from ..plots.bon import plot_plug_in
from ..quantile_estimates import mc_p_le, plug_in_bon_probs, plug_in_error
from ..spaces import Space, grid_mixture
from .live import Panel, autoscale, live_figure, make_panel, readout_table, set_line, show

__all__ = ["quantile_panel"]


def quantile_panel(space: Space | None = None, k: int = 16, n: float = 16.0, seed: int = 0, reps: int = 40) -> Panel:
    """Sliders ``k`` (reference samples per estimate, 1 to 256) and ``n`` (log scale, 1 to 1024).

    Each update draws, with ``np.random.default_rng(seed)``, one estimate p_hat_le (plotted) and then
    ``reps`` more for the mean TV, so the same (k, N) always shows the same numbers.
    """
    space = grid_mixture() if space is None else space
    p, r, x = space.ref_probs, space.rewards, space.x
    _, p_le = quantiles(p, r)
    controls = {
        "k": W.IntSlider(value=k, min=1, max=256, step=1, description="k", continuous_update=True),
        "n": W.FloatLogSlider(value=n, base=2, min=0, max=10, step=0.05, description="N",
                              continuous_update=True, readout_format=".3g"),
    }
    fig = live_figure((11, 3.6))
    ax_q, ax_t = fig.subplots(1, 2)
    readout = W.HTML()
    state: dict = {"space": space}
    exact_q = np.maximum(p_le, 1e-300)

    def draw(k_, n_, p_hat, plug, exact):
        if not ax_q.lines:   # first update: draw; later ones set the same lines' data
            ax_q.plot(x, p_le, color="tab:red", lw=2, label=r"exact $p_\leq$")
            ax_q.step(x, p_hat, where="mid", color="tab:orange", label=r"$\hat p_\leq$ from k samples")
            ax_q.plot(x, p_le ** (n_ - 1), color="tab:red", ls="--", lw=1, label=r"$p_\leq^{N-1}$")
            ax_q.plot(x, p_hat ** (n_ - 1), color="tab:orange", ls="--", lw=1, label=r"$\hat p_\leq^{N-1}$")
            ax_q.set_xlabel("outcome y")
            ax_q.legend(fontsize=8)
            plot_plug_in(p, r, n_, p_hat, x=x, ax=ax_t)
        _, line_hat, line_pow, line_hat_pow = ax_q.lines[:4]
        set_line(line_hat, p_hat)
        set_line(line_pow, p_le ** (n_ - 1))
        set_line(line_hat_pow, p_hat ** (n_ - 1))
        ax_q.set_title(f"quantiles and their power N-1 = {n_ - 1:.3g}", fontsize=10)
        _, line_bon, line_exact, line_plug = ax_t.lines[:4]
        set_line(line_bon, bon_probs(p, r, n_))
        set_line(line_exact, exact)
        set_line(line_plug, plug)
        autoscale(ax_t)
        ax_t.set_title(f"Best-of-N target, N={n_:.3g}, k={k_}", fontsize=10)
        show(fig)

    def update(*_):
        k_, n_ = int(controls["k"].value), float(controls["n"].value)
        rng = np.random.default_rng(seed)
        p_hat = mc_p_le(p, r, k_, rng)                                              # (K,) one estimate
        mean_tv, std_tv = plug_in_error(p, r, n_, k_, rng, reps=reps)
        exact = plug_in_bon_probs(p, exact_q, n_)                                   # exact-quantile target
        plug = plug_in_bon_probs(p, p_hat, n_)
        state.update(p_hat=p_hat, plug_in=plug, exact=exact)
        draw(k_, n_, p_hat, plug, exact)
        readout.value = readout_table([
            ("k", "k", f"{k_}"),
            ("n", "N", f"{n_:.4g}"),
            ("tv_draw", "TV(plug-in, exact quantiles), this draw", f"{tv(plug, exact):.4f}"),
            ("tv_mean", f"mean TV over {reps} draws", f"{mean_tv:.4f}"),
            ("tv_std", "std of TV over those draws", f"{std_tv:.4f}"),
        ])

    return make_panel(controls, readout, fig, [list(controls.values())], update, state)
