"""Plots for the small-LM demo (``bondlab demo``, notebook 06).

Every helper takes ``ax=None`` (a new figure is made) and returns the axes; lines carry labels, so
``{l.get_label(): l for l in ax.get_lines()}`` finds the data a helper drew. The input is the plain data
``bondlab.lm.demo.run_demo`` returns (``result.data``): ``methods`` and ``history`` keyed by method name.
Nothing here calls ``plt.show()``.
"""
from __future__ import annotations

import numpy as np

from ..theory import bon_kl_bound

__all__ = ["plot_reward_vs_kl", "plot_training_curve", "plot_exact_tracking", "METHOD_COLORS"]

METHOD_COLORS = {"jbond": "C3", "reinforce_0.01": "C0", "reinforce_0.1": "C2", "reinforce_1": "C4",
                 "jbond_keep_going": "C1"}


def _ax(ax, figsize=(6.4, 4.2)):
    if ax is None:
        import matplotlib.pyplot as plt
        _, ax = plt.subplots(figsize=figsize)
    return ax


def _bon_names(methods) -> list[str]:
    return sorted((m for m in methods if m.startswith("bon_")), key=lambda m: int(m.split("_")[1]))


def _err(values, lo, hi):
    """(2, n) non-negative error-bar lengths from interval ends (a missing end draws no bar on that side)."""
    v = np.asarray(values, dtype=float)
    lo = np.array([np.nan if b is None else b for b in lo], dtype=float)
    hi = np.array([np.nan if b is None else b for b in hi], dtype=float)
    return np.nan_to_num(np.clip(np.stack([v - lo, hi - v]), 0, None))


def _errorbars(ax, x, y, xerr, yerr, color) -> None:
    """Thin 95% interval bars (no marker line, so ``ax.lines`` keeps only the labelled data)."""
    ax.errorbar(x, y, xerr=xerr, yerr=yerr, fmt="none", ecolor=color, elinewidth=0.7, alpha=0.55)


def _trained(history) -> list[str]:
    return [m for m in history if m == "jbond" or m.startswith("reinforce_") or m == "jbond_keep_going"]


def plot_reward_vs_kl(data: dict, metric: str = "reward", ax=None, highlight_n: float | None = None,
                      kl_max: float | None = None):
    """Gold reward (or ``metric``) against KL(pi || pi_ref): every trained method's trajectory, Best-of-N
    from pi_ref as points at its analytic KL log N - (N-1)/N (labelled ``BoN``), pi_ref at KL 0, and a star
    at J-BOND's stop; 95% interval bars where the data carries them (``<key>_lo``/``<key>_hi`` in a history,
    ``<key>_ci`` in a method: the demo's report set). ``highlight_n`` draws a vertical line at that N's KL bound (the slider in notebook 06).

    The KL axis ends at ``kl_max`` (default: 1.5 x the larger of J-BOND's largest KL and the largest Best-of-N
    bound), so one degenerate run does not squash the rest; a trajectory that leaves the frame says how far
    it went in its legend label."""
    ax = _ax(ax)
    methods, history = data["methods"], data["history"]
    bons = _bon_names(methods)
    ns = [int(m.split("_")[1]) for m in bons]
    xs = [float(bon_kl_bound(n)) for n in ns]
    ys = [methods[m][metric] for m in bons]
    if "ref" in methods:
        ns, xs, ys = [1] + ns, [0.0] + xs, [methods["ref"][metric]] + ys
    ax.plot(xs, ys, "ks--", label="BoN", ms=6, lw=0.8)
    names = (["ref"] if "ref" in methods else []) + bons
    if all(methods[m].get(f"{metric}_ci") for m in names):
        cis = [methods[m][f"{metric}_ci"] for m in names]
        _errorbars(ax, xs, ys, None, _err(ys, [c[0] for c in cis], [c[1] for c in cis]), "k")
    for n, x, y in zip(ns, xs, ys):
        ax.annotate(f"N={n}", (x, y), textcoords="offset points", xytext=(4, -11), fontsize=8)
    if kl_max is None:
        ref_kls = list(xs) + (list(history["jbond"]["kl"]) if "jbond" in history else [])
        kl_max = 1.5 * max(ref_kls + [1.0])
    for m in _trained(history):
        h = history[m]
        top = max(h["kl"])
        label = m if top <= kl_max else f"{m} (goes to KL {top:.3g})"
        ax.plot(h["kl"], h[metric], "o-", ms=3, color=METHOD_COLORS.get(m), label=label)
        if f"{metric}_lo" in h and "kl_lo" in h:
            _errorbars(ax, h["kl"], h[metric], _err(h["kl"], h["kl_lo"], h["kl_hi"]),
                       _err(h[metric], h[f"{metric}_lo"], h[f"{metric}_hi"]), METHOD_COLORS.get(m))
    ax.set_xlim(-0.03 * kl_max, kl_max)
    if "jbond" in methods and "jbond" in history:
        j = methods["jbond"]
        ax.plot([j["kl"]], [j[metric]], "*", ms=14, color="C3", label="jbond stop")
        if j.get("kl_ci") and j.get(f"{metric}_ci"):
            _errorbars(ax, [j["kl"]], [j[metric]], _err([j["kl"]], *([b] for b in j["kl_ci"])),
                       _err([j[metric]], *([b] for b in j[f"{metric}_ci"])), "C3")
    if highlight_n is not None:
        ax.axvline(float(bon_kl_bound(highlight_n)), color="0.5", ls=":", lw=1, label=f"KL bound N={highlight_n:g}")
    ax.set_xlabel("KL(pi || pi_ref)  [nats per sequence]")
    ax.set_ylabel("gold reward (VADER)" if metric == "reward" else metric)
    ax.set_title("reward vs KL: Best-of-N, J-BOND, REINFORCE")
    ax.legend(fontsize=7, loc="lower right")
    return ax


def plot_training_curve(data: dict, metric: str = "quantile", x: str = "wall_s", ax=None,
                        target: float | None = None):
    """``metric`` of each trained method against ``x`` ("wall_s", training seconds; "step"; or
    "policy_samples", the counted training budget); ``target``
    draws a horizontal line (e.g. the quantile N/(N+1) that stops J-BOND). Where the history carries them,
    a band shows the 95% interval (``<metric>_lo``/``_hi``) and a thin dotted line the selection-set value
    the stop rule read (``select_<metric>``)."""
    ax = _ax(ax)
    history = data["history"]
    for m in _trained(history):
        h = history[m]
        ax.plot(h[x], h[metric], "o-", ms=3, color=METHOD_COLORS.get(m), label=m)
        if f"{metric}_lo" in h:
            lo = [np.nan if v is None else v for v in h[f"{metric}_lo"]]
            hi = [np.nan if v is None else v for v in h[f"{metric}_hi"]]
            ax.fill_between(h[x], lo, hi, color=METHOD_COLORS.get(m), alpha=0.15, lw=0)
        if f"select_{metric}" in h:
            ax.plot(h[x], h[f"select_{metric}"], ":", lw=0.8, color=METHOD_COLORS.get(m))
    if target is not None:
        ax.axhline(target, color="k", ls="--", lw=0.8, label=f"target {target:.3f}")
    ax.set_xlabel({"wall_s": "training seconds", "policy_samples": "policy samples drawn in training"}.get(x, x))
    ax.set_ylabel(metric)
    ax.legend(fontsize=7)
    return ax


def plot_exact_tracking(exact: dict, direction: str = "backward", ax=None):
    """The ``--exact`` run on the micro GPT: exact KL(pi || Best-of-2^m(pi_ref)) ("backward") or
    KL(Best-of-2^m || pi) ("forward") for each m against the step, with the hard-anchor updates marked."""
    ax = _ax(ax)
    key = "kl_to_bon" if direction == "backward" else "kl_from_bon"
    steps = np.asarray(exact["step"])
    for n, vals in exact[key].items():
        ax.plot(steps, vals, "-", label=f"N={n}")
    for s in exact.get("anchor_steps", []):
        ax.axvline(s, color="0.7", lw=0.8, ls=":")
    ax.set_yscale("log")
    ax.set_xlabel("J-BOND step (dotted: anchor replaced)")
    ax.set_ylabel("KL(pi || BoN_N(pi_ref))" if direction == "backward" else "KL(BoN_N(pi_ref) || pi)")
    ax.set_title("exact distance to Best-of-N over all micro sequences")
    ax.legend(fontsize=7)
    return ax
