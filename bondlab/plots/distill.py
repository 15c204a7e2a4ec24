"""Plots for distillation on toy spaces: target vs fitted policies, metric histories, Best-of-n^M markers.

Each helper takes ``ax=None`` (a new figure is made) and returns the axes; none calls ``plt.show()``.
Histories are the plain dicts of :mod:`bondlab.train` (metric name -> list over steps).
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ..theory import bon_expected_quantile, bon_kl

__all__ = ["plot_fits", "plot_history", "plot_quantile_vs_step", "plot_reward_vs_kl", "LABELS"]

LABELS = {
    "fwd_kl": "KL(π_BoN ‖ π)", "bwd_kl": "KL(π ‖ π_BoN)", "jeffreys": "Jeffreys J_β", "kl_ref": "KL(π ‖ π_ref)",
    "kl_anchor": "KL(π ‖ π_anchor)", "quantile": "E_π[p≤(y)]", "reward": "E_π[r]", "entropy": "entropy H(π)",
}


def _ax(ax):
    return plt.subplots(figsize=(6, 3.5))[1] if ax is None else ax


def plot_fits(x, target, fits: dict, *, ref=None, ax=None):
    """The target pi_BoN (filled) against fitted policies ``fits`` (label -> probs), and pi_ref if given."""
    ax = _ax(ax)
    x = np.asarray(x, dtype=np.float64)
    ax.fill_between(x, np.asarray(target), color="0.8", label="target π_BoN", step=None)
    if ref is not None:
        ax.plot(x, ref, color="0.4", lw=1, ls=":", label="π_ref")
    for label, p in fits.items():
        ax.plot(x, p, lw=1.8, label=label)
    ax.set_xlabel("outcome y")
    ax.set_ylabel("probability")
    ax.legend(fontsize=8)
    return ax


def plot_history(histories: dict, key: str = "fwd_kl", *, log: bool = False, ax=None):
    """One metric against step for several runs (label -> history)."""
    ax = _ax(ax)
    for label, h in histories.items():
        ax.plot(np.arange(1, len(h[key]) + 1), h[key], lw=1.5, label=label)
    ax.set_xlabel("step")
    ax.set_ylabel(LABELS.get(key, key))
    if log:
        ax.set_yscale("log")
    ax.legend(fontsize=8)
    return ax


def plot_quantile_vs_step(history: dict, space, *, key: str = "quantile", bon_ns=(), label: str = "policy", ax=None):
    """``quantile`` (or ``kl_ref``) against step, with horizontal markers at Best-of-n^M of pi_ref.

    ``bon_ns``: the Best-of-N values to mark, e.g. ``history["bon_equivalent_n"]``; round ends (if the
    history has ``round_end``) are drawn as dots where each hard-anchor round finished.
    """
    if key not in ("quantile", "kl_ref"):
        raise ValueError(f"key must be 'quantile' or 'kl_ref', got {key!r}")
    ax = _ax(ax)
    y = np.asarray(history[key])
    ax.plot(np.arange(1, y.size + 1), y, lw=1.5, label=label)
    f = bon_expected_quantile if key == "quantile" else bon_kl
    for n in bon_ns:
        v = f(space.ref_probs, space.rewards, n)
        ax.axhline(v, color="0.5", lw=0.8, ls="--")
        ax.annotate(f"BoN {n:g}", (0, v), xycoords=("axes fraction", "data"), fontsize=7, va="bottom", color="0.3")
    ends = history.get("round_end", [])
    if ends:
        ax.plot(np.asarray(ends) + 1, y[np.asarray(ends)], "o", color="C3", ms=5, label="hard anchor reset")
    ax.set_xlabel("step")
    ax.set_ylabel(LABELS[key])
    ax.legend(fontsize=8)
    return ax


def plot_reward_vs_kl(histories: dict, space=None, *, bon_ns=(), ax=None):
    """Reward/KL front: E_pi[r] against KL(pi || pi_ref) along each run, with Best-of-N points if given."""
    ax = _ax(ax)
    for label, h in histories.items():
        ax.plot(h["kl_ref"], h["reward"], lw=1.5, label=label)
    if space is not None and len(bon_ns):
        from ..theory import bon_expected_reward
        kls = [bon_kl(space.ref_probs, space.rewards, n) for n in bon_ns]
        rs = [bon_expected_reward(space.ref_probs, space.rewards, n) for n in bon_ns]
        ax.plot(kls, rs, "k^", ms=6, label="Best-of-N (exact)")
        for n, k_, r_ in zip(bon_ns, kls, rs):
            ax.annotate(f"{n:g}", (k_, r_), fontsize=7, xytext=(3, -8), textcoords="offset points")
    ax.set_xlabel(LABELS["kl_ref"])
    ax.set_ylabel(LABELS["reward"])
    ax.legend(fontsize=8)
    return ax
