"""Estimated quantiles p_hat_le from k reference samples, and how the power N-1 amplifies their error.

Sessa et al. 2024, Sec. 4.2: the backward-KL reward is log p_le(y), estimated per prompt as the
fraction of k reference samples whose reward is <= r(y) (k = 16 for training, 32 for evaluation in the
paper). The estimate is Binomial(k, p_le)/k, unbiased for p_le, but the Best-of-N target needs
p_le^(N-1), and E[p_hat^(N-1)] != p_le^(N-1): for N-1 >> k it tends to P[all k samples <= r(y)] = p_le^k.
The quantile view (:func:`quantile_view`) measures this on a toy space: the mean plug-in target
against the exact-quantile one, per k and N; the estimated target stops sharpening near N ~ k + 1 while the
true one keeps going, so the error compounds with N. A learned quantile model (paper App. B.1) lives in
:mod:`bondlab.quantile_model`. (The module is not called
``quantiles``: that name is the public function ``bondlab.quantiles`` returning ``(p_lt, p_le)``.)

p_hat_le = 0 cannot happen for an outcome that is itself among the samples; for other outcomes we clamp
to ``clamp`` (default 1/(2k)), the usual continuity correction, so that log p_hat stays finite.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from . import _validate as V
from .bon import quantiles, sample_ref

__all__ = ["mc_p_le", "expected_power", "plug_in_bon_probs", "plug_in_error", "QuantileView", "mean_plug_in_target",
           "quantile_view"]


def mc_p_le(ref_probs, rewards, k, rng: np.random.Generator, *, clamp: float | None = None) -> np.ndarray:
    """p_hat_le(y) for every outcome y from one shared set of k samples of pi_ref; zeros clamped to 1/(2k)."""
    ref_probs = V.probs(ref_probs)
    rewards = V.rewards(rewards, ref_probs.size)
    k = V.positive_int(k, "k", most=V.MAX_ITEMS)
    draws = np.sort(rewards[sample_ref(ref_probs, k, V.rng(rng))])       # (k,) sampled rewards, sorted
    p_hat = np.searchsorted(draws, rewards, side="right") / k             # (K,) fraction <= r(y)
    c = 1.0 / (2 * k) if clamp is None else V.scalar(clamp, "clamp")
    if not (0 < c <= 1):
        raise ValueError(f"clamp must lie in (0, 1], got {clamp!r}")
    return np.maximum(p_hat, c)


def expected_power(p, k, m) -> np.ndarray:
    """E[(X/k)^m] for X ~ Binomial(k, p), exactly: the mean of the plug-in Best-of-N factor p_hat^m."""
    p = np.atleast_1d(V.array(p, "p"))
    if np.any((p < 0) | (p > 1)) or np.isnan(p).any() or p.size == 0:
        raise ValueError("p must be non-empty and lie in [0, 1]")
    k = V.positive_int(k, "k", most=10**6)
    m = V.scalar(m, "m")
    if not (0 <= m < math.inf):
        raise ValueError(f"m must be a finite number >= 0, got {m!r}")
    x = np.arange(k + 1)                                                   # (k+1,)
    pmf = stats.binom.pmf(x[None, :], k, p[:, None])                       # (P, k+1)
    return pmf @ ((x / k) ** m)


def plug_in_bon_probs(ref_probs, p_le_hat, n) -> np.ndarray:
    """pi_ref * p_hat_le^(n-1), normalised: the Best-of-n target with estimated quantiles, term (B) dropped."""
    ref_probs = V.probs(ref_probs)
    p_le_hat = V.array(p_le_hat, "p_le_hat")
    if p_le_hat.shape != ref_probs.shape:
        raise ValueError(f"p_le_hat has shape {p_le_hat.shape} but ref_probs has {ref_probs.shape}")
    if np.any((p_le_hat <= 0) | (p_le_hat > 1)) or np.isnan(p_le_hat).any():
        raise ValueError("p_le_hat must lie in (0, 1]; clamp zeros first")
    n = V.n_real(n)
    with np.errstate(divide="ignore"):
        logw = np.log(ref_probs) + (n - 1) * np.log(p_le_hat)
    logw -= logw[np.isfinite(logw)].max()
    w = np.exp(logw)
    return w / w.sum()


def plug_in_error(ref_probs, rewards, n, k, rng: np.random.Generator, reps: int = 200):
    """Mean total variation between the plug-in target (from k samples) and the exact continuous-form target.

    The comparison target is pi_ref * p_le^(n-1) normalised (the same form with exact quantiles), so the
    gap isolates the quantile-estimation error. Returns ``(mean_tv, std_tv)`` over ``reps`` draws.
    """
    ref_probs = V.probs(ref_probs)
    rewards = V.rewards(rewards, ref_probs.size)
    reps = V.positive_int(reps, "reps", most=10**6)
    V.positive_int(k, "k", most=V.MAX_ITEMS)
    _, p_le = quantiles(ref_probs, rewards)
    exact = plug_in_bon_probs(ref_probs, np.maximum(p_le, 1e-300), n)
    tvs = np.array([0.5 * np.abs(plug_in_bon_probs(ref_probs, mc_p_le(ref_probs, rewards, k, rng), n) - exact).sum()
                    for _ in range(reps)])
    return float(tvs.mean()), float(tvs.std())


# ------------------------------------------------------------------------------------------------ the quantile view

@dataclass
class QuantileView:
    """How p_hat_le from k samples distorts the Best-of-N target, per k (rows) and N (columns)."""
    ks: np.ndarray           # (Q,) reference samples per estimate
    n: np.ndarray            # (P,) N
    tv: np.ndarray           # (Q, P) TV(mean plug-in target, exact-quantile target)
    gold: np.ndarray         # (Q, P) E[r_gold] under the mean plug-in target
    gold_exact: np.ndarray   # (P,) E[r_gold] under the exact-quantile target pi_ref p_le^(N-1) / Z
    d: np.ndarray            # (Q, P) sqrt KL(mean plug-in target || pi_ref)
    d_exact: np.ndarray      # (P,) sqrt KL(exact-quantile target || pi_ref)


def mean_plug_in_target(ref_probs, rewards, n, k, clamp: float | None = None) -> np.ndarray:
    """pi_ref(y) E[p_hat_le(y)^(n-1)] / Z, exactly, with p_hat_le = max(Binomial(k, p_le)/k, clamp).

    The Best-of-n target built from k-sample quantile estimates (Sessa et al. 2024, Sec. 4.2, term (B)
    dropped as in the paper), averaged over the estimate's randomness. Clamp as in
    :func:`mc_p_le` (1/(2k) by default). As n grows, E[p_hat^(n-1)] -> P[X = k] = p_le^k:
    the estimated target stops sharpening near n ~ k + 1.
    """
    ref_probs = V.probs(ref_probs)
    rewards = V.rewards(rewards, ref_probs.size)
    n = V.n_real(n)
    k = V.positive_int(k, "k")
    c = 1.0 / (2 * k) if clamp is None else float(clamp)
    if not (0 < c <= 1):
        raise ValueError(f"clamp must lie in (0, 1], got {clamp!r}")
    _, p_le = quantiles(ref_probs, rewards)                               # (K,)
    x = np.arange(k + 1)                                                  # (k+1,)
    log_pmf = stats.binom.logpmf(x[None, :], k, p_le[:, None])            # (K, k+1)
    log_val = (n - 1) * np.log(np.maximum(x / k, c))                      # (k+1,)
    with np.errstate(divide="ignore"):
        log_w = np.log(ref_probs) + np.logaddexp.reduce(log_pmf + log_val[None, :], axis=1)  # (K,)
    log_w -= log_w.max()
    w = np.exp(log_w)
    return w / w.sum()


def _sqrt_kl(p, ref):
    on = p > 0
    return float(np.sqrt(max(0.0, np.sum(p[on] * (np.log(p[on]) - np.log(ref[on]))))))


def quantile_view(ref_probs, gold, proxy, ns, ks=(4, 16, 64)) -> QuantileView:
    """How k-sample quantile errors compound with N: the mean plug-in target against the exact-quantile one."""
    ref_probs = V.probs(ref_probs)
    gold, proxy = V.rewards(gold, ref_probs.size, "gold"), V.rewards(proxy, ref_probs.size, "proxy")
    ks = np.asarray([V.positive_int(k, "ks") for k in ks], dtype=np.int64)
    ns = np.asarray(ns, dtype=np.float64)
    _, p_le = quantiles(ref_probs, proxy)
    exact = [plug_in_bon_probs(ref_probs, p_le, n) for n in ns]           # P x (K,)
    tv = np.zeros((ks.size, ns.size))
    g = np.zeros((ks.size, ns.size))
    d = np.zeros((ks.size, ns.size))
    for i, k in enumerate(ks):
        for j, n in enumerate(ns):
            q = mean_plug_in_target(ref_probs, proxy, n, int(k))
            tv[i, j] = 0.5 * np.abs(q - exact[j]).sum()
            g[i, j] = q @ gold
            d[i, j] = _sqrt_kl(q, ref_probs)
    return QuantileView(ks, ns, tv, g, np.array([e @ gold for e in exact]), d,
                        np.array([_sqrt_kl(e, ref_probs) for e in exact]))
