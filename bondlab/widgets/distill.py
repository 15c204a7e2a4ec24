"""Notebook 03's panel: forward vs backward vs Jeffreys BOND, fitted exactly on a toy space.

Sliders: beta (the Jeffreys weight), N, the left mixture weight of pi_ref, and the policy family. Each
change runs three exact-gradient fits (Sessa et al. 2024, Sec. 4) on a 61-point grid, about 0.1 s each,
and redraws the target against the fits, both KLs and the entropy along training.
"""
from __future__ import annotations

import ipywidgets as W
import numpy as np
from matplotlib.figure import Figure

from ..bon import bon_probs
from ..divergences import entropy
from ..plots.distill import plot_fits
from ..policies import FAMILIES
from ..spaces import grid_mixture
from ..train import BondConfig, train_bond
from .bon import Panel, figure_png, readout_table

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
    fig = Figure(figsize=(12, 3.4), layout="constrained")
    ax_fit, ax_kl, ax_h = fig.subplots(1, 3)
    readout, image, state = W.HTML(), W.Image(format="png"), {}

    def update(*_):
        b, n_ = float(controls["beta"].value), int(controls["n"].value)
        space = bimodal_space(float(controls["weight"].value), k)
        fits, hists = {}, {}
        for obj in OBJECTIVES_SHOWN:
            cfg = BondConfig(objective=obj, beta=b, n=n_, family=controls["family"].value, steps=steps, lr=0.1)
            pol, hists[obj] = train_bond(space, cfg)
            fits[obj] = pol.probs_np()
        hists_target = hists["forward"]  # any run: all share the target
        state.update(space=space, fits=fits, histories=hists)
        for ax in (ax_fit, ax_kl, ax_h):
            ax.clear()
        target = bon_probs(space.ref_probs, space.rewards, n_)
        state["target"] = target
        plot_fits(space.x, target, {("jeffreys β=%.2f" % b if o == "jeffreys" else o): p for o, p in fits.items()},
                  ref=space.ref_probs, ax=ax_fit)
        ax_fit.set_title(f"Best-of-{n_} target and {controls['family'].value} fits", fontsize=10)
        steps_ = np.arange(1, len(hists_target["fwd_kl"]) + 1)
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
        image.value = figure_png(fig)
        rows = [("target_entropy", "H(π<sub>BoN</sub>)", f"{entropy(target):.4f}")]
        for obj in OBJECTIVES_SHOWN:
            h = hists[obj]
            rows += [(f"{obj}_fwd", f"{obj}: KL(π<sub>BoN</sub> &#8214; π)", f"{h['fwd_kl'][-1]:.4f}"),
                     (f"{obj}_bwd", f"{obj}: KL(π &#8214; π<sub>BoN</sub>)", f"{h['bwd_kl'][-1]:.4f}"),
                     (f"{obj}_entropy", f"{obj}: H(π)", f"{h['entropy'][-1]:.4f}")]
        readout.value = readout_table(rows)

    for c in controls.values():
        c.observe(update, names="value")
    update()
    widget = W.VBox([W.HBox(list(controls.values())), image, readout])
    return Panel(controls, readout, image, fig, widget, update, state)
