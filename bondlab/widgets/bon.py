"""Notebook 01's panel: N, the mixture weight of pi_ref and the reward's shape, with the exact pi_BoN.

Every callback is exact maths on a 101-point grid (one sort, a few linear passes) and sets the data of the
lines already drawn; ipympl redraws them in the page, so the sliders answer at once.
``bon_panel().widget`` is what the notebook displays.
"""
from __future__ import annotations

import ipywidgets as W
import numpy as np

from ..bon import bon_probs, bon_terms
from ..plots.bon import plot_bon, plot_terms, terms_ylim
from ..spaces import REWARD_SHAPES, Space, grid_mixture
from ..theory import bon_expected_reward, bon_kl, bon_kl_bound, bon_win_rate
from .ahead import Ahead, values
from .live import Panel, autoscale, figure_png, live_figure, make_panel, readout_table, set_label, set_limits, set_line, show

__all__ = ["Panel", "bon_panel", "figure_png", "readout_table"]


def _mixture(weight: float, reward: str, k: int) -> Space:
    return grid_mixture(k=k, weights=(weight, 1.0 - weight), reward=reward)


def bon_panel(n: float = 8.0, weight: float = 0.6, reward: str = "linear", k: int = 101) -> Panel:
    """Sliders for N (log scale, 1 to 1024, real N allowed), the weight of the left mixture component of
    pi_ref, and the reward's shape. Shows pi_ref against the exact pi_BoN, terms (A) and (B), and a readout
    of E[r], KL(pi_BoN || pi_ref), the bound log N - (N-1)/N and the win rate against N/(N+1)."""
    if reward not in REWARD_SHAPES:
        raise ValueError(f"reward must be one of {REWARD_SHAPES}, got {reward!r}")
    controls = {
        "n": W.FloatLogSlider(value=n, base=2, min=0, max=10, step=0.05, description="N",
                              continuous_update=True, readout_format=".3g"),
        "weight": W.FloatSlider(value=weight, min=0.0, max=1.0, step=0.05, description="left weight",
                                continuous_update=True),
        "reward": W.Dropdown(options=list(REWARD_SHAPES), value=reward, description="reward"),
    }
    fig = live_figure((11, 3.6))
    ax_probs, ax_terms = fig.subplots(1, 2)
    readout = W.HTML()
    state: dict = {}

    def draw(space, n_, shown=True):
        p, r, x = space.ref_probs, space.rewards, space.x
        if not ax_probs.lines:   # first update: the plot helpers draw; later ones set the same lines' data
            plot_bon(p, r, n_, x=x, ax=ax_probs)
            plot_terms(p, r, n_, x=x, ax=ax_terms)
        ref, exact = ax_probs.lines[:2]
        set_line(ref, p, x)
        set_line(exact, bon_probs(p, r, n_), x)
        set_label(ax_probs, exact, r"exact $\pi_\mathrm{BoN}$")   # N is in the titles: a legend stays as drawn
        autoscale(ax_probs)
        ax_probs.set_title(f"{space.name}: exact Best-of-N, N={n_:g}", fontsize=10)
        a, b = bon_terms(p, r, n_)
        line_a, line_b, line_ab, line_n = ax_terms.lines[:4]
        for line, y in ((line_a, a), (line_b, b), (line_ab, a * b)):
            set_line(line, y, x)
        line_n.set_ydata([n_, n_])
        set_limits(ax_terms, *terms_ylim(a, b, n_))
        ax_terms.set_title(f"Theorem 1's terms, N={n_:g}", fontsize=10)
        if shown:
            show(fig)

    def pose(v, shown=False):   # the artists as the update for v sets them (a frame only if shown)
        n_, space = float(v["n"]), _mixture(float(v["weight"]), v["reward"], k)
        draw(space, n_, shown)
        return n_, space

    def update(*_):
        n_, space = pose(values(controls), shown=True)
        state["space"] = space
        p, r = space.ref_probs, space.rewards
        pi_bon = bon_probs(p, r, n_)
        readout.value = readout_table([
            ("n", "N", f"{n_:.4g}"),
            ("reward_ref", "E<sub>ref</sub>[r]", f"{float(np.dot(p, r)):.4f}"),
            ("reward_bon", "E<sub>BoN</sub>[r]", f"{bon_expected_reward(p, r, n_):.4f}"),
            ("kl", "KL(&pi;<sub>BoN</sub> &#8214; &pi;<sub>ref</sub>), exact", f"{bon_kl(p, r, n_):.4f}"),
            ("bound", "bound log N &minus; (N&minus;1)/N", f"{float(bon_kl_bound(n_)):.4f}"),
            ("win_rate", "win rate vs one &pi;<sub>ref</sub> sample", f"{bon_win_rate(p, r, n_):.4f}"),
            ("win_cont", "continuous N/(N+1)", f"{n_ / (n_ + 1):.4f}"),
            ("top_mass", "&pi;<sub>BoN</sub> mass on the best outcome(s)", f"{float(pi_bon[r == r.max()].sum()):.4f}"),
        ])

    ahead = Ahead(controls, lambda v: [], pose, fig)   # no maths worth doing ahead: the backgrounds only
    return make_panel(controls, readout, fig, [list(controls.values())], update, state, ahead=ahead)
