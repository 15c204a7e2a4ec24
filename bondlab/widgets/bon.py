"""Notebook 01's panel: N, the mixture weight of pi_ref and the reward's shape, with the exact pi_BoN.

Every callback is exact maths on a 101-point grid (one sort, a few linear passes, one small PNG), so the
sliders answer at once. ``bon_panel().widget`` is what the notebook displays.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field

import ipywidgets as W
import numpy as np
from matplotlib.figure import Figure

from ..bon import bon_probs
from ..plots.bon import plot_bon, plot_terms
from ..spaces import REWARD_SHAPES, Space, grid_mixture
from ..theory import bon_expected_reward, bon_kl, bon_kl_bound, bon_win_rate

__all__ = ["Panel", "bon_panel", "figure_png", "readout_table"]


@dataclass
class Panel:
    """A small interactive panel: sliders in ``controls``, an HTML ``readout``, a matplotlib ``fig`` shown
    as a PNG in ``image``; ``widget`` is the box to display and ``update()`` redraws from the controls."""
    controls: dict            # name -> ipywidget
    readout: W.HTML           # the numbers, as an HTML table
    image: W.Image            # the figure, rendered to PNG on every update
    fig: Figure               # the figure itself (its axes hold the plotted data)
    widget: W.Box             # what a notebook displays
    update: object            # callable redrawing from the current control values
    state: dict = field(default_factory=dict)  # the latest inputs (e.g. the current Space)


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
    fig = Figure(figsize=(11, 3.6), layout="constrained")
    ax_probs, ax_terms = fig.subplots(1, 2)
    readout = W.HTML()
    image = W.Image(format="png")
    state: dict = {}

    def update(*_):
        n_ = float(controls["n"].value)
        space = _mixture(float(controls["weight"].value), controls["reward"].value, k)
        state["space"] = space
        p, r = space.ref_probs, space.rewards
        ax_probs.clear()
        ax_terms.clear()
        plot_bon(p, r, n_, x=space.x, ax=ax_probs)
        ax_probs.set_title(f"{space.name}: exact Best-of-N", fontsize=10)
        plot_terms(p, r, n_, x=space.x, ax=ax_terms)
        image.value = figure_png(fig)
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

    for c in controls.values():
        c.observe(update, names="value")
    update()
    widget = W.VBox([W.HBox(list(controls.values())), image, readout])
    return Panel(controls, readout, image, fig, widget, update, state)
