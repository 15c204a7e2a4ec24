"""Plots for reward over-optimization (notebook 04, ``bondlab toy overopt``).

Every helper takes ``ax=None`` (a new figure is made) and returns the axes; lines carry labels, so
``{l.get_label(): l for l in ax.get_lines()}`` finds the data a helper drew. The maths lives in
:mod:`bondlab.overopt` and :mod:`bondlab.proxy`; these helpers only draw it.
"""
from __future__ import annotations

import numpy as np

__all__ = ["plot_rewards", "plot_overopt", "rewards_series", "rewards_title", "overopt_series", "plot_vs_n", "plot_quantile_view"]


def _ax(ax):
    if ax is None:
        import matplotlib.pyplot as plt
        _, ax = plt.subplots(figsize=(6.4, 3.8))
    return ax


def rewards_series(res):
    """The lines of :func:`plot_rewards` as ``(x, y, label, style)``; the pi_ref area as ``(x, y)``."""
    sp, pr = res.space, res.proxy
    a, b = res.calib
    top = max(float(sp.rewards.max()), 1e-12)
    seen = np.unique(pr.pairs.ravel())
    lines = [(sp.x, sp.rewards, "gold reward", dict(color="k", lw=2)),
             (sp.x, a + b * pr.rewards, "proxy (gold units)", dict(color="C3", lw=1.5)),
             (sp.x[seen], np.full(seen.size, -0.05 * top), "compared outcomes", dict(ls="none", marker="|", color="C0", ms=8))]
    return lines, (sp.x, sp.ref_probs / sp.ref_probs.max() * top)


def rewards_title(res) -> str:
    c = res.proxy.config
    return f"Bradley-Terry proxy: m={c.m}, noise={c.noise:g}, {c.features}({c.capacity})"


def plot_rewards(res, *, ax=None):
    """pi_ref (shaded, rescaled), the gold reward and the proxy in gold units (least-squares map under pi_ref),
    with the positions where the comparisons were drawn as ticks."""
    ax = _ax(ax)
    lines, (x, area) = rewards_series(res)
    ax.fill_between(x, 0, area, color="0.85", label="pi_ref (rescaled)")
    for lx, ly, label, style in lines:
        ax.plot(lx, ly, label=label, **style)
    ax.set_xlabel("outcome x")
    ax.set_ylabel("reward")
    ax.set_title(rewards_title(res), fontsize=10)
    ax.legend(fontsize=8, loc="best")
    return ax


def overopt_series(res, *, show_rl: bool = True, show_fit: bool = True, others: dict | None = None):
    """The lines of :func:`plot_overopt` as ``(x, y, label, style)``, in drawing order; vertical lines
    (best N) have ``x`` of length 2 and ``y`` None."""
    g0 = res.extra["gold_ref"]
    a, b = res.calib
    bon, rl = res.bon, res.rl
    p0 = float(res.space.ref_probs @ res.proxy.rewards)
    out = [(bon.d, bon.gold - g0, "gold, Best-of-N", dict(fmt="o-", color="k", ms=3)),
           (bon.d, b * (bon.proxy - p0), "proxy, Best-of-N", dict(fmt="o--", color="C3", ms=3))]
    if show_rl:
        out += [(rl.d, rl.gold - g0, "gold, KL-regularised", dict(fmt="-", color="C0")),
                (rl.d, b * (rl.proxy - p0), "proxy, KL-regularised", dict(fmt="--", color="C0", alpha=0.6))]
    if show_fit:
        dd = np.linspace(0, max(bon.d.max(), rl.d.max() if show_rl else 0), 200)
        out.append((dd, res.fit_bon(dd), f"fit d(a - b d): a={res.fit_bon.alpha:.3g}, b={res.fit_bon.beta:.3g}",
                    dict(fmt=":", color="k", lw=2)))
        if show_rl:
            out.append((dd, res.fit_rl(dd), f"fit d(a - b log d): a={res.fit_rl.alpha:.3g}, b={res.fit_rl.beta:.3g}",
                        dict(fmt=":", color="C0", lw=2)))
    for i, (label, c) in enumerate((others or {}).items()):
        out.append((c.d, c.gold - g0, f"gold, {label}", dict(fmt="s", color=f"C{4 + i}", ms=6)))
    for n, style, name in ((res.best_n_true, "-", "true"), (res.best_n_fit, "--", "fit")):
        i = int(np.argmin(np.abs(bon.param - n)))
        out.append(([bon.d[i]] * 2, None, f"best N ({name}) = {n}", dict(color="C2", ls=style, lw=1)))
    return out


def plot_overopt(res, *, ax=None, show_rl: bool = True, show_fit: bool = True, others: dict | None = None):
    """Gold and proxy (gold units) reward gain against d = sqrt KL for Best-of-N on the proxy, the
    KL-regularised optimum, Gao et al.'s fitted forms, and the best N, true and from the fit.
    ``others`` maps a label to more :class:`bondlab.reward_curves.Curves` (e.g. BOND policies), drawn as markers."""
    ax = _ax(ax)
    for x, y, label, style in overopt_series(res, show_rl=show_rl, show_fit=show_fit, others=others):
        style = dict(style)
        if y is None:
            ax.axvline(x[0], label=label, **style)
        else:
            ax.plot(x, y, style.pop("fmt"), label=label, **style)
    ax.axhline(0, color="0.6", lw=0.8)
    ax.set_xlabel("d = sqrt KL(pi || pi_ref)")
    ax.set_ylabel("reward gain over pi_ref")
    ax.set_title("over-optimization: the proxy keeps rising, the gold peaks", fontsize=10)
    ax.legend(fontsize=7, loc="best")
    return ax


def plot_vs_n(res, *, ax=None):
    """Gold and proxy (gold units) expected reward against N, log scale, with the best N both ways."""
    ax = _ax(ax)
    a, b = res.calib
    ax.semilogx(res.bon.param, res.bon.gold, "o-", color="k", ms=3, label="gold")
    ax.semilogx(res.bon.param, a + b * res.bon.proxy, "o--", color="C3", ms=3, label="proxy (gold units)")
    ax.axvline(res.best_n_true, color="C2", label=f"best N (true) = {res.best_n_true}")
    ax.axvline(res.best_n_fit, color="C2", ls="--", label=f"best N (fit) = {res.best_n_fit}")
    ax.set_xlabel("N")
    ax.set_ylabel("expected reward under pi_BoN")
    ax.set_title("Best-of-N on the proxy", fontsize=10)
    ax.legend(fontsize=8, loc="best")
    return ax


def plot_quantile_view(qv, *, ax=None):
    """TV between the Best-of-N target built from k-sample quantiles (averaged) and the exact-quantile one,
    against N: the error compounds with N, and more samples k only push it to larger N."""
    ax = _ax(ax)
    for i, k in enumerate(qv.ks):
        ax.semilogx(qv.n, qv.tv[i], "o-", ms=3, label=f"k = {int(k)}")
        ax.axvline(k + 1, color=f"C{i}", ls=":", lw=0.8)
    ax.set_xlabel("N")
    ax.set_ylabel("TV(plug-in target, exact)")
    ax.set_ylim(0, 1.02)
    ax.set_title("p_hat from k samples: errors raised to the power N-1 (dotted: N = k+1)", fontsize=10)
    ax.legend(fontsize=8, loc="best")
    return ax
