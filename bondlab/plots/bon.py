"""Plots for exact Best-of-N on finite spaces (notebooks 01 and 02, ``bondlab toy bon``).

Every helper takes ``ax=None`` (a new figure is made) and returns the axes. Lines carry labels, so
``{l.get_label(): l for l in ax.get_lines()}`` finds the data a helper drew. Nothing here calls
``plt.show()``. The maths comes from :mod:`bondlab.bon`, :mod:`bondlab.theory` and
:mod:`bondlab.quantiles`; these helpers only draw it.
"""
from __future__ import annotations

import numpy as np

from .. import _validate as V
from ..bon import bon_levels, bon_probs, bon_terms, quantiles
from ..quantile_estimates import plug_in_bon_probs, plug_in_error
from ..theory import (bon_expected_log_quantile, bon_expected_quantile, bon_expected_reward, bon_kl, bon_kl_bound,
                      bon_win_rate, continuous_expected_log_quantile, continuous_expected_quantile)

__all__ = ["plot_bon", "plot_terms", "terms_ylim", "plot_ties", "plot_kl_vs_bound", "plot_quantile_law", "plot_expected_quantile",
           "plot_win_rate", "plot_reward_gain", "plot_quantile_error", "plot_plug_in", "sample_frequencies"]


def _ax(ax):
    if ax is None:
        import matplotlib.pyplot as plt
        _, ax = plt.subplots(figsize=(6.4, 3.8))
    return ax


def _x(x, size):
    if x is None:
        return np.arange(size, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    if x.shape != (size,):
        raise ValueError(f"x has shape {x.shape} but ref_probs has length {size}")
    return x


def _width(x):
    return float(np.min(np.diff(np.sort(x)))) if x.size > 1 else 1.0


def sample_frequencies(samples, size: int) -> np.ndarray:
    """(K,) empirical frequencies of outcome indices ``samples`` (e.g. from :func:`bondlab.sample_bon`)."""
    samples = np.asarray(samples)
    if samples.ndim != 1 or samples.size == 0:
        raise ValueError(f"samples must be a non-empty 1-D array of outcome indices, got shape {samples.shape}")
    if samples.min() < 0 or samples.max() >= size:
        raise ValueError(f"samples must hold outcome indices in [0, {size}), got range [{samples.min()}, {samples.max()}]")
    return np.bincount(samples, minlength=size) / samples.size


def plot_bon(ref_probs, rewards, n, *, x=None, samples=None, ax=None):
    """pi_ref and the exact pi_BoN (Sessa et al. 2024, Theorem 1) as lines; a Monte Carlo histogram of
    ``samples`` (outcome indices drawn by :func:`bondlab.sample_bon`) as bars underneath."""
    ax = _ax(ax)
    ref_probs = V.probs(ref_probs)
    x = _x(x, ref_probs.size)
    exact = bon_probs(ref_probs, rewards, n)
    if samples is not None:
        freq = sample_frequencies(samples, ref_probs.size)
        ax.bar(x, freq, width=0.9 * _width(x), color="tab:orange", alpha=0.35,
               label=f"Monte Carlo ({np.asarray(samples).size:,} samples)")
    marker = "o" if ref_probs.size <= 30 else None
    ax.plot(x, ref_probs, color="tab:blue", marker=marker, label=r"$\pi_\mathrm{ref}$")
    ax.plot(x, exact, color="tab:red", lw=2, marker=marker, label=rf"exact $\pi_\mathrm{{BoN}}$, N={n:g}")
    ax.set_xlabel("outcome y")
    ax.set_ylabel("probability")
    ax.legend(fontsize=8)
    return ax


def plot_terms(ref_probs, rewards, n, *, x=None, ax=None):
    """Theorem 1's factors on a log scale: (A) = p_le^(N-1), (B) in [1, N], and their product pi_BoN / pi_ref."""
    ax = _ax(ax)
    ref_probs = V.probs(ref_probs)
    x = _x(x, ref_probs.size)
    a, b = bon_terms(ref_probs, rewards, n)
    n = V.n_real(n)
    marker = "o" if ref_probs.size <= 30 else None
    ax.plot(x, a, color="tab:purple", marker=marker, label=r"(A) $p_\leq^{N-1}$ (penalty)")
    ax.plot(x, b, color="tab:green", marker=marker, label="(B) tie correction, in [1, N]")
    ax.plot(x, a * b, color="black", ls="--", marker=marker, label=r"(A)(B) = $\pi_\mathrm{BoN}/\pi_\mathrm{ref}$")
    ax.axhline(n, color="tab:green", lw=0.8, ls=":")
    ax.axhline(1.0, color="grey", lw=0.8, ls=":")
    ax.set_yscale("log")
    ax.set_ylim(*terms_ylim(a, b, n))
    ax.set_xlabel("outcome y")
    ax.set_title(f"Theorem 1's terms, N={n:g}", fontsize=10)
    ax.legend(fontsize=8)
    return ax


def terms_ylim(a, b, n):
    """The y-range of :func:`plot_terms`: from half the smallest positive (A)(B) (at least 1e-8) to 2N."""
    positive = (a * b)[(a * b) > 0]
    lo = max(float(positive.min()) if positive.size else 1e-6, 1e-8)
    return lo / 2, 2 * n


def plot_ties(ref_probs, rewards, n, *, samples=None, ax=None):
    """Grouped bars per outcome: pi_ref, the target with term (B) dropped (pi_ref p_le^(N-1), normalised),
    the exact pi_BoN, and optionally Monte Carlo frequencies. On a tied space the (B)-less target is wrong."""
    ax = _ax(ax)
    ref_probs = V.probs(ref_probs)
    k = ref_probs.size
    x = np.arange(k, dtype=np.float64)
    _, p_le = quantiles(ref_probs, rewards)
    no_b = plug_in_bon_probs(ref_probs, np.maximum(p_le, 1e-300), n)
    exact = bon_probs(ref_probs, rewards, n)
    bars = [(ref_probs, r"$\pi_\mathrm{ref}$", "tab:blue"),
            (no_b, r"(A) only: $\pi_\mathrm{ref}\,p_\leq^{N-1}$ normalised", "tab:purple"),
            (exact, r"exact $\pi_\mathrm{BoN}$ = (A)(B)", "tab:red")]
    w = 0.8 / len(bars)
    for i, (h, label, color) in enumerate(bars):
        ax.bar(x + (i - 1) * w, h, width=w, color=color, alpha=0.8, label=label)
    if samples is not None:
        freq = sample_frequencies(samples, k)
        ax.plot(x + w, freq, ls="none", marker="x", color="black", ms=8,
                label=f"Monte Carlo ({np.asarray(samples).size:,} samples)")
    r = V.rewards(rewards, k)
    ax.set_xticks(x, [f"y{i}\nr={v:g}" for i, v in enumerate(r)])
    ax.set_ylabel("probability")
    ax.set_title(f"Ties: term (B) at work, N={V.n_real(n):g}", fontsize=10)
    ax.legend(fontsize=8)
    return ax


def _ns(ns):
    ns = np.asarray(ns, dtype=np.float64)
    if ns.ndim != 1 or ns.size == 0:
        raise ValueError("ns must be a non-empty 1-D sequence of n values")
    for v in ns:
        V.n_real(v, "ns")
    return ns


def _series(spaces, ns, f):
    return [(s.name, np.array([f(s.ref_probs, s.rewards, n) for n in ns])) for s in spaces]


def plot_kl_vs_bound(spaces, ns, *, ax=None):
    """Exact KL(pi_BoN || pi_ref) against N on each space, and the bound log N - (N-1)/N."""
    ax = _ax(ax)
    ns = _ns(ns)
    for name, kls in _series(spaces, ns, bon_kl):
        ax.plot(ns, kls, marker=".", label=f"exact KL: {name}")
    ax.plot(ns, bon_kl_bound(ns), color="black", ls="--", lw=2, label=r"bound $\log N - (N-1)/N$")
    ax.axhline(np.log(2), color="grey", ls=":", lw=1, label=r"$\log 2$")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("N")
    ax.set_ylabel("nats")
    ax.set_title(r"KL($\pi_\mathrm{BoN}\,\|\,\pi_\mathrm{ref}$) against the bound", fontsize=10)
    ax.legend(fontsize=8)
    return ax


def plot_quantile_law(ref_probs, rewards, n, *, samples=None, ax=None):
    """CDF of the reference quantile p_le(y) of the Best-of-N pick: exact on this discrete space (a staircase),
    against Beta(N, 1) (CDF u^N, the continuous law); optionally the empirical CDF of sampled picks."""
    ax = _ax(ax)
    n = V.n_real(n)
    lv, log_b = bon_levels(ref_probs, rewards, n)
    c = np.concatenate([[0.0], lv.cdf()])                     # (L+1,) atoms of p_le, with 0 in front
    cum = np.concatenate([[0.0], np.cumsum(np.exp(log_b))])   # (L+1,) P_BoN[p_le <= c]
    ax.step(np.append(c, 1.0), np.append(cum, 1.0), where="post", color="tab:red", lw=2,
            label=f"exact, this space (E = {bon_expected_quantile(ref_probs, rewards, n):.3f})")
    u = np.linspace(0, 1, 400)
    ax.plot(u, u ** n, color="black", ls="--", label=f"Beta(N,1): $u^N$ (E = N/(N+1) = {n / (n + 1):.3f})")
    if samples is not None:
        _, p_le = quantiles(ref_probs, rewards)
        s = np.sort(p_le[np.asarray(samples)])
        ax.step(s, np.arange(1, s.size + 1) / s.size, where="post", color="tab:orange", ls=":", lw=2,
                label=f"sampled picks ({s.size:,})")
    ax.set_xlabel(r"reference quantile $p_\leq$ of the BoN pick")
    ax.set_ylabel("CDF")
    ax.set_xlim(0, 1.0)
    ax.set_title(f"The quantile law, N={n:g}", fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    return ax


def plot_expected_quantile(spaces, ns, *, log=False, ax=None):
    """E_BoN[p_le] against N/(N+1), or with ``log=True`` E_BoN[log p_le] against -1/N, on each space."""
    ax = _ax(ax)
    ns = _ns(ns)
    f, ref, label = ((bon_expected_log_quantile, continuous_expected_log_quantile, r"$-1/N$") if log else
                     (bon_expected_quantile, continuous_expected_quantile, r"$N/(N+1)$"))
    for name, vals in _series(spaces, ns, f):
        ax.plot(ns, vals, marker=".", label=name)
    ax.plot(ns, ref(ns), color="black", ls="--", lw=2, label=f"continuous: {label}")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("N")
    ax.set_ylabel(r"$E_\mathrm{BoN}[\log p_\leq]$" if log else r"$E_\mathrm{BoN}[p_\leq]$")
    ax.legend(fontsize=8)
    return ax


def plot_win_rate(spaces, ns, *, ax=None):
    """Win rate of Best-of-N against one reference sample (ties count half), against N/(N+1)."""
    ax = _ax(ax)
    ns = _ns(ns)
    for name, vals in _series(spaces, ns, bon_win_rate):
        ax.plot(ns, vals, marker=".", label=name)
    ax.plot(ns, continuous_expected_quantile(ns), color="black", ls="--", lw=2, label="continuous: N/(N+1)")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("N")
    ax.set_ylabel("win rate vs a reference sample")
    ax.legend(fontsize=8)
    return ax


def plot_reward_gain(spaces, ns, *, ax=None):
    """Expected reward gain E_BoN[r] - E_ref[r] against N, on each space."""
    ax = _ax(ax)
    ns = _ns(ns)
    for s in spaces:
        base = float(np.dot(s.ref_probs, s.rewards))
        gain = np.array([bon_expected_reward(s.ref_probs, s.rewards, n) for n in ns]) - base
        ax.plot(ns, gain, marker=".", label=s.name)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("N")
    ax.set_ylabel(r"$E_\mathrm{BoN}[r] - E_\mathrm{ref}[r]$")
    ax.legend(fontsize=8)
    return ax


def plot_quantile_error(ref_probs, rewards, ns, ks, rng: np.random.Generator, *, reps: int = 100, ax=None):
    """Mean TV (with one-std bars over ``reps`` draws) between the plug-in target from k samples and the
    exact-quantile target, against k, one line per N (Sessa et al. 2024, Sec. 4.2: errors meet the power N-1)."""
    ax = _ax(ax)
    ns = _ns(ns)
    ks = np.asarray(ks)
    if ks.ndim != 1 or ks.size == 0:
        raise ValueError("ks must be a non-empty 1-D sequence of sample counts")
    for n in ns:
        stats = np.array([plug_in_error(ref_probs, rewards, n, int(k), rng, reps=reps) for k in ks])  # (len(ks), 2)
        ax.errorbar(ks, stats[:, 0], yerr=stats[:, 1], marker="o", capsize=3, label=f"N={n:g}")
    ax.set_xscale("log", base=2)
    ax.set_xlabel(r"k (reference samples per $\hat p_\leq$)")
    ax.set_ylabel("TV(plug-in target, exact-quantile target)")
    ax.legend(fontsize=8)
    return ax


def plot_plug_in(ref_probs, rewards, n, p_le_hat, *, x=None, ax=None):
    """The Best-of-N target built from estimated quantiles ``p_le_hat`` against the same form with exact
    quantiles and against the exact pi_BoN (Theorem 1)."""
    ax = _ax(ax)
    ref_probs = V.probs(ref_probs)
    x = _x(x, ref_probs.size)
    _, p_le = quantiles(ref_probs, rewards)
    ax.plot(x, ref_probs, color="tab:blue", lw=1, label=r"$\pi_\mathrm{ref}$")
    ax.plot(x, bon_probs(ref_probs, rewards, n), color="grey", ls=":", lw=2, label=r"exact $\pi_\mathrm{BoN}$")
    ax.plot(x, plug_in_bon_probs(ref_probs, np.maximum(p_le, 1e-300), n), color="tab:red", lw=2,
            label=r"exact quantiles: $\pi_\mathrm{ref}\,p_\leq^{N-1}$")
    ax.plot(x, plug_in_bon_probs(ref_probs, p_le_hat, n), color="tab:orange", lw=2,
            label=r"plug-in: $\pi_\mathrm{ref}\,\hat p_\leq^{N-1}$")
    ax.set_xlabel("outcome y")
    ax.set_ylabel("probability")
    ax.legend(fontsize=8)
    return ax
