"""Exact Best-of-N on a finite outcome space, its torch twin, and Best-of-N sampling.

Sessa et al. 2024 (BOND, arXiv 2407.14622), Theorem 1:

    pi_BoN(y) = pi_ref(y) * p_le(y)^(N-1) * sum_{i=1..N} (p_lt(y)/p_le(y))^(i-1)
                           '----(A)----'   '-------------(B)--------------'

with p_lt(y) = P_{y'~pi_ref}[r(y') < r(y)] and p_le(y) = P[r(y') <= r(y)]. Summing (B) gives the
*level form* used here: the reward level r gets mass F(r)^N - F(r-)^N (F the reward CDF under pi_ref),
shared inside the level in proportion to pi_ref. That form extends to real N >= 1.

The work is one sort of the rewards and then linear passes over levels. A level's mass is computed
directly, never as a difference of two cumulative sums:

    log(F_hi^N - F_lo^N) = N log F_hi + log(-expm1(N log1p(-m / F_hi))),   m = F_hi - F_lo,

with log F_hi taken from below (log of a small sum) or from above (log1p of minus the mass above),
whichever is accurate.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from . import _validate as V

__all__ = [
    "Levels", "levels", "bon_levels", "quantiles", "bon_probs", "bon_log_probs", "bon_terms", "sample_bon",
    "sample_ref", "bon_log_probs_torch",
]


@dataclass(frozen=True)
class Levels:
    """The reward levels of a finite space, sorted by increasing reward (L = number of levels)."""
    order: np.ndarray     # (K,) an argsort of the rewards (any order inside a level)
    counts: np.ndarray    # (L,) outcomes per level
    reward: np.ndarray    # (L,) the level's reward
    mass: np.ndarray      # (L,) pi_ref mass of the level, summed directly
    below: np.ndarray     # (L,) F(r-) = mass strictly below the level
    above: np.ndarray     # (L,) 1 - F(r) = mass strictly above the level

    def log_cdf(self) -> np.ndarray:
        """(L,) log F(r), accurate both near 0 (sum from below) and near 1 (log1p of the mass above)."""
        f = self.below + self.mass
        with np.errstate(divide="ignore"):
            return np.where(f <= 0.5, np.log(f), np.log1p(-self.above))

    def cdf(self) -> np.ndarray:
        """(L,) F(r) = p_le of the level."""
        f = self.below + self.mass
        return np.where(f <= 0.5, f, 1.0 - self.above)

    def to_outcomes(self, per_level: np.ndarray) -> np.ndarray:
        """Spread a (L,) per-level array back to the (K,) outcomes, in their original order."""
        out = np.empty(self.order.size, dtype=np.result_type(per_level))
        out[self.order] = np.repeat(per_level, self.counts)
        return out


def levels(ref_probs, rewards, *, _checked: bool = False) -> Levels:
    """Group outcomes into reward levels (exact equality of rewards defines a tie)."""
    if not _checked:
        ref_probs = V.probs(ref_probs)
        rewards = V.rewards(rewards, ref_probs.size)
    p = ref_probs / ref_probs.sum()
    order = np.argsort(rewards)                             # (K,) the one sort (stability not needed)
    r_s = rewards[order]                                    # (K,)
    new = np.empty(r_s.size, dtype=bool)
    new[0] = True
    np.not_equal(r_s[1:], r_s[:-1], out=new[1:])
    starts = np.flatnonzero(new)                            # (L,)
    counts = np.diff(np.append(starts, r_s.size))           # (L,)
    mass = np.add.reduceat(p[order], starts)                # (L,)
    csum = np.cumsum(mass)
    below = csum - mass                                     # exclusive prefix sums
    above = np.cumsum(mass[::-1])[::-1] - mass              # exclusive suffix sums
    np.clip(below, 0.0, 1.0, out=below)                     # rounding can leave -1e-17 or 1 + 1e-16
    np.clip(above, 0.0, 1.0, out=above)
    return Levels(order, counts, r_s[starts], mass, below, above)


def quantiles(ref_probs, rewards):
    """The paper's ``(p_lt, p_le)`` for every outcome: P[r(y') < r(y)] and P[r(y') <= r(y)], y' ~ pi_ref."""
    lv = levels(ref_probs, rewards)
    return lv.to_outcomes(lv.below), lv.to_outcomes(lv.cdf())


def _level_log_bon(lv: Levels, n: float) -> np.ndarray:
    """(L,) log of the Best-of-n mass of each level, F(r)^n - F(r-)^n, computed directly."""
    log_f = lv.log_cdf()                                    # (L,) log F_hi
    with np.errstate(divide="ignore", invalid="ignore"):
        f_hi = np.exp(log_f)
        frac = np.where(lv.mass > 0, lv.mass / np.where(f_hi > 0, f_hi, 1.0), 0.0)  # m / F_hi in [0, 1]
        frac = np.minimum(frac, 1.0)
        out = n * log_f + np.log(-np.expm1(n * np.log1p(-frac)))
    out[lv.mass <= 0] = -np.inf
    return out


def bon_levels(ref_probs, rewards, n):
    """``(levels, log_bon_mass)``: the reward levels and the log Best-of-n mass of each, (L,).

    Level-wise statistics (exact KL, win rate, expected quantile) need nothing finer than this.
    """
    ref_probs = V.probs(ref_probs)
    rewards = V.rewards(rewards, ref_probs.size)
    n = V.n_real(n)
    lv = levels(ref_probs, rewards, _checked=True)
    return lv, _level_log_bon(lv, n)


def bon_log_probs(ref_probs, rewards, n) -> np.ndarray:
    """log pi_BoN(y), exact, ties included; -inf exactly where pi_ref is 0.

    Accurate where :func:`bon_probs` underflows (n up to 1e9, pi_ref entries down to 1e-300).
    Sessa et al. 2024, Theorem 1, in its level form.
    """
    ref_probs = V.probs(ref_probs)
    rewards = V.rewards(rewards, ref_probs.size)
    n = V.n_real(n)
    lv = levels(ref_probs, rewards, _checked=True)
    with np.errstate(divide="ignore"):
        shift = np.where(lv.mass > 0, _level_log_bon(lv, n) - np.log(np.where(lv.mass > 0, lv.mass, 1.0)), 0.0)
        return np.log(ref_probs / ref_probs.sum()) + lv.to_outcomes(shift)


def bon_probs(ref_probs, rewards, n) -> np.ndarray:
    """pi_BoN(y), exact, ties included (Sessa et al. 2024, Theorem 1).

    For integer n this is the law of "draw n samples from pi_ref, return the first with the highest
    reward". Real n >= 1 continues the level formula F(r)^n - F(r-)^n smoothly.
    """
    ref_probs = V.probs(ref_probs)
    rewards = V.rewards(rewards, ref_probs.size)
    n = V.n_real(n)
    lv = levels(ref_probs, rewards, _checked=True)
    with np.errstate(divide="ignore", over="ignore"):
        log_ratio = _level_log_bon(lv, n) - np.log(np.where(lv.mass > 0, lv.mass, 1.0))
        ratio = np.where(lv.mass > 0, np.exp(log_ratio), 0.0)  # pi_BoN / pi_ref inside each level, <= n
    p = ref_probs / ref_probs.sum()
    out = np.empty_like(p)
    out[lv.order] = p[lv.order] * np.repeat(ratio, lv.counts)
    return out


def bon_terms(ref_probs, rewards, n):
    """Theorem 1's two factors per outcome: (A) = p_le^(n-1), the penalty, and (B), the tie correction.

    (B) = sum_{i=1..n} q^(i-1) = (1 - q^n) / (1 - q) with q = p_lt / p_le, so (B) lies in [1, n];
    it is 1 for the worst outcome and n when an outcome's level carries no mass. pi_BoN = pi_ref * A * B.
    """
    ref_probs = V.probs(ref_probs)
    rewards = V.rewards(rewards, ref_probs.size)
    n = V.n_real(n)
    p_lt, p_le = quantiles(ref_probs, rewards)
    a = p_le ** (n - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(p_le > 0, p_lt / np.where(p_le > 0, p_le, 1.0), 1.0)
        b = np.where(q < 1, -np.expm1(n * np.log(q)) / (1 - q), n)
    return a, b


def sample_ref(ref_probs, size, rng: np.random.Generator) -> np.ndarray:
    """Draw outcome indices from pi_ref by inverse CDF; ``size`` may be an int or a shape."""
    ref_probs = V.probs(ref_probs)
    rng = V.rng(rng)
    cdf = np.cumsum(ref_probs)
    cdf /= cdf[-1]
    idx = np.searchsorted(cdf, rng.random(size), side="right")
    return np.minimum(idx, ref_probs.size - 1)


def sample_bon(ref_probs, rewards, n, size, rng: np.random.Generator, *, chunk: int = 4_000_000) -> np.ndarray:
    """Real Best-of-n sampling: draw n outcomes from pi_ref, keep the first with the highest reward.

    Returns ``size`` outcome indices. Used as the Monte Carlo oracle for :func:`bon_probs`.
    """
    ref_probs = V.probs(ref_probs)
    rewards = V.rewards(rewards, ref_probs.size)
    n = V.n_int(n)
    size = V.positive_int(size, "size")
    rng = V.rng(rng)
    out = np.empty(size, dtype=np.int64)
    rows = max(1, chunk // n)
    for lo in range(0, size, rows):
        hi = min(size, lo + rows)
        draws = sample_ref(ref_probs, (hi - lo, n), rng)                 # (rows, n)
        first_best = np.argmax(rewards[draws], axis=1)                   # first argmax
        out[lo:hi] = draws[np.arange(hi - lo), first_best]
    return out


# --------------------------------------------------------------------------------------------------
# torch twin: a batch of finite spaces (e.g. prompts x enumerated sequences), log pi_ref in, log pi_BoN out
# --------------------------------------------------------------------------------------------------

def bon_log_probs_torch(log_ref: torch.Tensor, rewards: torch.Tensor, n: float) -> torch.Tensor:
    """Batched log pi_BoN with the semantics of :func:`bon_log_probs`, differentiable in ``log_ref``.

    log_ref: (..., K) log pi_ref, each row normalised (-inf allowed); rewards: (..., K) finite.
    Returns (..., K). Use float64 where entries are tinier than float32 can hold.
    """
    if not isinstance(log_ref, torch.Tensor) or not isinstance(rewards, torch.Tensor):
        raise ValueError("log_ref and rewards must be torch tensors")
    if log_ref.shape != rewards.shape or log_ref.ndim == 0 or log_ref.shape[-1] == 0:
        raise ValueError(f"log_ref {tuple(log_ref.shape)} and rewards {tuple(rewards.shape)} must share a non-empty shape")
    if torch.isnan(log_ref).any() or (log_ref == float("inf")).any():
        raise ValueError("log_ref contains NaN or +inf")
    if not torch.isfinite(rewards).all():
        raise ValueError("rewards contains NaN or inf")
    total = torch.logsumexp(log_ref.detach(), dim=-1)
    tol = 1e-5 if log_ref.dtype != torch.float64 else 1e-9
    if (total.abs() > tol).any():
        raise ValueError(f"log_ref rows must be normalised (logsumexp 0), max |logsumexp| = {total.abs().max().item():.3g}")
    n = V.n_real(n)

    r_s, order = torch.sort(rewards, dim=-1, stable=True)                  # (..., K)
    lp = torch.gather(log_ref, -1, order)                                   # (..., K) sorted log pi_ref
    new = torch.ones_like(r_s, dtype=torch.bool)
    new[..., 1:] = r_s[..., 1:] != r_s[..., :-1]
    lid = new.long().cumsum(-1) - 1                                         # (..., K) level id per slot
    neg_inf = torch.tensor(float("-inf"), dtype=lp.dtype, device=lp.device)
    # segment log-sum-exp: per-level max, then sum of exp(lp - max)
    seg_max = torch.full_like(lp, float("-inf")).scatter_reduce(-1, lid, lp.detach(), "amax")  # (..., L<=K)
    seg_max = torch.where(torch.isfinite(seg_max), seg_max, torch.zeros_like(seg_max))
    w = torch.exp(lp - torch.gather(seg_max, -1, lid))
    log_m = torch.log(torch.zeros_like(lp).scatter_add(-1, lid, w)) + seg_max   # (..., L) -inf when empty
    has = torch.isfinite(log_m)
    log_cum = torch.logcumsumexp(log_m, dim=-1)                             # log F(r) from below
    rev = torch.logcumsumexp(log_m.flip(-1), dim=-1).flip(-1)               # log mass >= level
    log_above = torch.cat([rev[..., 1:], torch.full_like(rev[..., :1], float("-inf"))], dim=-1)
    from_above = torch.log1p(-torch.exp(torch.clamp(log_above, max=-1e-12)))
    log_f = torch.where(log_cum <= -0.6931471805599453, log_cum, from_above)  # (..., L) log F_hi
    log_frac = torch.clamp(log_m - log_f, max=0.0)                          # log(m / F_hi)
    lowest = log_frac >= 0                                                  # nothing below: F_lo = 0
    safe_frac = torch.where(lowest | ~has, torch.full_like(log_frac, -1.0), log_frac)
    tail = torch.log(-torch.expm1(n * torch.log1p(-torch.exp(safe_frac))))
    level_log = n * log_f + torch.where(lowest, torch.zeros_like(tail), tail)
    shift = torch.where(has, level_log - torch.where(has, log_m, torch.zeros_like(log_m)), torch.zeros_like(log_m))
    out_sorted = lp + torch.gather(shift, -1, lid)
    out_sorted = torch.where(torch.isfinite(lp), out_sorted, neg_inf)
    return torch.empty_like(out_sorted).scatter(-1, order, out_sorted)
