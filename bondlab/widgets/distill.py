"""Notebook 03's panel: forward vs backward vs Jeffreys BOND, fitted exactly on a toy space.

Sliders: beta (the Jeffreys weight), N, the left mixture weight of pi_ref, and the policy family. Each
change runs three exact-gradient fits (Sessa et al. 2024, Sec. 4) on a 61-point grid, together and without
autograd (:func:`bondlab.fit_exact.fit_bond_exact`, the numbers of ``train_bond`` to float64 rounding, a few
tens of milliseconds; fits already made, and those of every control's next values made while the kernel is
idle, come from a cache, :mod:`bondlab.widgets.ahead`), and sets the data of the target, the fits, both KLs
and the entropy along training in the figure drawn once.
"""
from __future__ import annotations

import ipywidgets as W
import numpy as np
from ..bon import bon_probs
from ..divergences import entropy
from ..fit_exact import fit_bond_exact
from ..plots.distill import plot_fits
from ..policies import FAMILIES
from ..spaces import grid_mixture
from ..train import objective_beta
from .ahead import Ahead, cached, one_job, values
from .live import Panel, autoscale, live_figure, make_panel, readout_table, set_fill, set_line, show
from .prefetch import expect, span_limits

__all__ = ["distill_panel", "bimodal_space", "OBJECTIVES_SHOWN"]

OBJECTIVES_SHOWN = ("forward", "backward", "jeffreys")


def bimodal_space(weight: float = 0.5, k: int = 61):
    """Two separated modes of pi_ref, both rewarded ('two_peaks'): pi_BoN stays bimodal."""
    return grid_mixture(k=k, weights=(weight, 1.0 - weight), means=(-0.5, 0.5), scales=(0.15, 0.15), reward="two_peaks")


def distill_panel(beta: float = 0.5, n: int = 4, weight: float = 0.5, family: str = "gaussian",
                  steps: int = 200, k: int = 61) -> Panel:
    """Returns a :class:`bondlab.widgets.bon.Panel`; ``state["fits"]`` maps objective -> fitted probs and
    ``state["histories"]`` objective -> history. The first axes hold the target (a filled area) and one
    line per objective, in the order of :data:`OBJECTIVES_SHOWN`, after the pi_ref line."""
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")
    controls = {
        "beta": W.FloatSlider(value=beta, min=0.0, max=1.0, step=0.05, description="β (Jeffreys)"),
        "n": W.IntSlider(value=n, min=1, max=32, description="N"),
        "weight": W.FloatSlider(value=weight, min=0.05, max=0.95, step=0.05, description="left weight"),
        "family": W.Dropdown(options=list(FAMILIES), value=family, description="family"),
    }
    for c in controls.values():
        c.continuous_update = False
    # for each N, the highest probability the target or pi_ref reaches over the weight slider's whole grid
    # (exact; beta and the family do not change the target): moving any slider but N keeps the limits, unless
    # a fit rises above them
    c_n, c_w = controls["n"], controls["weight"]
    spaces = [bimodal_space(float(w), k) for w in np.arange(c_w.min, c_w.max + 1e-9, c_w.step)]
    top = {n_: max(float(np.max(np.maximum(bon_probs(s.ref_probs, s.rewards, n_), s.ref_probs))) for s in spaces)
           for n_ in range(c_n.min, c_n.max + 1)}
    fig = live_figure((12, 3.4))
    ax_fit, ax_kl, ax_h = fig.subplots(1, 3)
    expect(ax_fit, [span_limits((0.0, top[n_]))[0] for n_ in top])   # every N's limits, drawn when the page attaches
    readout, state = W.HTML(), {}


    def draw(space, target, fits, hists, b, n_, family, shown=True):
        steps_ = np.arange(1, len(hists["forward"]["fwd_kl"]) + 1)
        if not ax_fit.lines:   # first update: draw; later ones set the same artists' data
            plot_fits(space.x, target, fits, ref=space.ref_probs, ax=ax_fit)   # β is in the title
            for i, obj in enumerate(OBJECTIVES_SHOWN):
                ax_kl.plot(steps_, hists[obj]["fwd_kl"], color=f"C{i}", label=f"{obj}: KL(π_BoN‖π)")
                ax_kl.plot(steps_, hists[obj]["bwd_kl"], color=f"C{i}", ls="--", label=f"{obj}: KL(π‖π_BoN)")
                ax_h.plot(steps_, hists[obj]["entropy"], color=f"C{i}", label=obj)
            ax_kl.set_yscale("log")
            ax_kl.set_xlabel("step")
            ax_kl.set_title("both KLs (solid forward, dashed backward)", fontsize=10)
            ax_kl.legend(fontsize=6)
            ax_h.axhline(entropy(target), color="0.4", ls=":", label="H(π_BoN)")
            ax_h.set_xlabel("step")
            ax_h.set_title("entropy", fontsize=10)
            ax_h.legend(fontsize=7)
        set_fill(ax_fit.collections[0], space.x, target)
        set_line(ax_fit.lines[0], space.ref_probs)
        for line, obj in zip(ax_fit.lines[1:], OBJECTIVES_SHOWN):
            set_line(line, fits[obj])
        ax_fit.set_title(f"Best-of-{n_} target, {family} fits, jeffreys β={b:.2f}", fontsize=10)
        for i, obj in enumerate(OBJECTIVES_SHOWN):
            set_line(ax_kl.lines[2 * i], hists[obj]["fwd_kl"])
            set_line(ax_kl.lines[2 * i + 1], hists[obj]["bwd_kl"])
            set_line(ax_h.lines[i], hists[obj]["entropy"])
        ax_h.lines[3].set_ydata([entropy(target)] * 2)
        autoscale(ax_fit, yspan=(0.0, top[n_]))   # limits that hold for every other slider's value (``top``)
        autoscale(ax_kl, yspan="decades")
        autoscale(ax_h, yspan=(0.0, float(np.log(k))))   # 0 <= entropy <= log K
        if shown:
            show(fig)

    def key(v):   # exactly the inputs of the fits
        return float(v["beta"]), int(v["n"]), float(v["weight"]), v["family"]

    def fit(b, n_, w, family):
        space = bimodal_space(w, k)
        probs, runs = fit_bond_exact(space, n_, [objective_beta(o, b) for o in OBJECTIVES_SHOWN],
                                     family, steps=steps, lr=0.1, beta=b)
        return (space, bon_probs(space.ref_probs, space.rewards, n_), dict(zip(OBJECTIVES_SHOWN, probs)),
                dict(zip(OBJECTIVES_SHOWN, runs)))

    def pose(v, shown=False):   # the artists as the update for v sets them (a frame only if shown)
        kv = key(v)
        space, target, fits, hists = cached(cache, kv, lambda: fit(*kv))
        draw(space, target, fits, hists, kv[0], kv[1], kv[3], shown)
        return space, target, fits, hists

    def update(*_):
        space, target, fits, hists = pose(values(controls), shown=True)
        state.update(space=space, fits=fits, histories=hists, target=target)
        rows = [("target_entropy", "H(π<sub>BoN</sub>)", f"{entropy(target):.4f}")]
        for obj in OBJECTIVES_SHOWN:
            h = hists[obj]
            rows += [(f"{obj}_fwd", f"{obj}: KL(π<sub>BoN</sub> &#8214; π)", f"{h['fwd_kl'][-1]:.4f}"),
                     (f"{obj}_bwd", f"{obj}: KL(π &#8214; π<sub>BoN</sub>)", f"{h['bwd_kl'][-1]:.4f}"),
                     (f"{obj}_entropy", f"{obj}: H(π)", f"{h['entropy'][-1]:.4f}")]
        readout.value = readout_table(rows)

    cache: dict = {}   # fits already made, by their inputs (:func:`bondlab.widgets.ahead.cached`)
    ahead = Ahead(controls, one_job(cache, key, lambda kv: fit(*kv)), pose, fig)
    return make_panel(controls, readout, fig, [list(controls.values())], update, state, ahead=ahead)
