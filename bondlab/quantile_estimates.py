"""Estimated quantiles p_hat_le from k reference samples, and how the power N-1 amplifies their error.

Sessa et al. 2024, Sec. 4.2: the backward-KL reward is log p_le(y), estimated per prompt as the
fraction of k reference samples whose reward is <= r(y) (k = 16 for training, 32 for evaluation in the
paper). The estimate is Binomial(k, p_le)/k, unbiased for p_le, but the Best-of-N target needs
p_le^(N-1), and E[p_hat^(N-1)] != p_le^(N-1): for N-1 >> k it tends to P[all k samples <= r(y)] = p_le^k.
A learned quantile model (paper App. B.1) lives in :mod:`bondlab.quantile_model`. (The module is not called
``quantiles``: that name is the public function ``bondlab.quantiles`` returning ``(p_lt, p_le)``.)

p_hat_le = 0 cannot happen for an outcome that is itself among the samples; for other outcomes we clamp
to ``clamp`` (default 1/(2k)), the usual continuity correction, so that log p_hat stays finite.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import stats

from . import _validate as V
from .bon import quantiles, sample_ref

__all__ = ["mc_p_le", "expected_power", "plug_in_bon_probs", "plug_in_error"]


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
