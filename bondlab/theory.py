"""Bounds and laws for choosing N: the KL bound, win rate, the quantile law, Gao et al.'s forms.

Continuous-reward facts (Sessa et al. 2024, Sec. 3; Beirami et al. 2024, arXiv 2401.01879):
KL(pi_BoN || pi_ref) = log N - (N-1)/N, the BoN quantile p_le is Beta(N, 1) so E[p_le] = N/(N+1) and
E[log p_le] = -1/N, and the win rate against one reference sample is N/(N+1). On a finite space with
ties or heavy atoms the first is only an upper bound: the exact values here show by how much.
"""
from __future__ import annotations

import math

import numpy as np

from . import _validate as V
from .bon import bon_levels

__all__ = ["bon_kl_bound", "bon_kl", "bon_win_rate", "bon_expected_quantile", "bon_expected_log_quantile",
           "bon_expected_reward", "continuous_expected_quantile", "continuous_expected_log_quantile",
           "continuous_quantile_pdf", "gao_bon", "gao_rl"]


def _as_n(n):
    if np.ndim(n) == 0 and not hasattr(n, "requires_grad"):
        return V.n_real(n)
    arr = V.array(n, "n")
    if arr.size == 0:
        raise ValueError("n must not be empty")
    for v in arr.ravel():
        V.n_real(v)
    return arr


def bon_kl_bound(n):
    """log n - (n-1)/n: KL(pi_BoN || pi_ref) for continuous rewards, an upper bound on finite spaces."""
    n = _as_n(n)
    return np.log(n) - (n - 1) / n


def _bon_mass(ref_probs, rewards, n):
    lv, log_b = bon_levels(ref_probs, rewards, n)
    return lv, np.exp(log_b), log_b


def bon_kl(ref_probs, rewards, n) -> float:
    """Exact KL(pi_BoN || pi_ref). Inside a level the ratio pi_BoN/pi_ref is constant, so the sum runs over levels."""
    lv, b, log_b = _bon_mass(ref_probs, rewards, n)
    live = b > 0
    return max(0.0, float(np.sum(b[live] * (log_b[live] - np.log(lv.mass[live])))))


def bon_win_rate(ref_probs, rewards, n) -> float:
    """P[r(y_BoN) > r(y')] + P[tie] / 2 for y' ~ pi_ref; N/(N+1) for continuous rewards."""
    lv, b, _ = _bon_mass(ref_probs, rewards, n)
    return float(np.sum(b * (lv.below + 0.5 * lv.mass)))


def bon_expected_quantile(ref_probs, rewards, n) -> float:
    """E_{y~pi_BoN}[p_le(y)]; N/(N+1) for continuous rewards, larger with ties."""
    lv, b, _ = _bon_mass(ref_probs, rewards, n)
    return float(np.sum(b * lv.cdf()))


def bon_expected_log_quantile(ref_probs, rewards, n) -> float:
    """E_{y~pi_BoN}[log p_le(y)]; -1/N for continuous rewards. BoN maximises this among policies at its KL."""
    lv, b, _ = _bon_mass(ref_probs, rewards, n)
    live = b > 0
    return float(np.sum(b[live] * lv.log_cdf()[live]))


def bon_expected_reward(ref_probs, rewards, n) -> float:
    """E_{y~pi_BoN}[r(y)]."""
    lv, b, _ = _bon_mass(ref_probs, rewards, n)
    return float(np.sum(b * lv.reward))


def continuous_expected_quantile(n):
    """N/(N+1), the mean of Beta(N, 1)."""
    n = _as_n(n)
    return n / (n + 1)


def continuous_expected_log_quantile(n):
    """-1/N, the mean of log U for U ~ Beta(N, 1)."""
    return -1.0 / _as_n(n)


def continuous_quantile_pdf(u, n):
    """Density N u^(N-1) of the Best-of-N reference quantile, Beta(N, 1)."""
    u = V.array(u, "u")
    if np.any((u < 0) | (u > 1)) or np.isnan(u).any():
        raise ValueError("u must lie in [0, 1]")
    n = _as_n(n)
    return n * u ** (n - 1)


def _gao_args(d, alpha, beta):
    d = V.array(d, "d")
    if np.any(d < 0) or not np.isfinite(d).all():
        raise ValueError("d must be finite and >= 0 (d = sqrt(KL))")
    alpha, beta = V.scalar(alpha, "alpha"), V.scalar(beta, "beta")
    for name, v in (("alpha", alpha), ("beta", beta)):
        if not math.isfinite(v):
            raise ValueError(f"{name} must be finite, got {v!r}")
    return d, alpha, beta


def gao_bon(d, alpha, beta):
    """Gao, Schulman & Hilton 2022 (arXiv 2210.10760): gold reward of BoN, R(d) = d (alpha - beta d), d = sqrt(KL)."""
    d, alpha, beta = _gao_args(d, alpha, beta)
    return _finite(d * (alpha - beta * d))


def _finite(out):
    if not np.isfinite(out).all():
        raise ValueError("d, alpha or beta too large: the gold reward overflows float64")
    return out


def gao_rl(d, alpha, beta):
    """Gao et al. 2022: gold reward under RL, R(d) = d (alpha - beta log d), with R(0) = 0."""
    d, alpha, beta = _gao_args(d, alpha, beta)
    with np.errstate(divide="ignore", invalid="ignore"):
        return _finite(np.where(d > 0, d * (alpha - beta * np.log(np.where(d > 0, d, 1.0))), 0.0))
