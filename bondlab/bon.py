"""Exact Best-of-N on a finite outcome space, its torch twin, and Best-of-N sampling.

Sessa et al. 2024 (BOND, arXiv 2407.14622), Theorem 1:

    pi_BoN(y) = pi_ref(y) * p_le(y)^(N-1) * sum_{i=1..N} (p_lt(y)/p_le(y))^(i-1)
                           '----(A)----'   '-------------(B)--------------'

with p_lt(y) = P_{y'~pi_ref}[r(y') < r(y)] and p_le(y) = P[r(y') <= r(y)]. Summing (B) gives the
*level form* used here: the reward level r gets mass F(r)^N - F(r-)^N (F the reward CDF under pi_ref),
shared inside the level in proportion to pi_ref. That form extends to real N >= 1.

The work is one sort of the rewards and then linear passes over levels. pi_ref is renormalised once,
and the L + 1 level boundaries 0 = F_0 <= F_1 <= ... <= F_L = 1 are computed once, each from the side
where it is accurate (log of the mass below when that is <= 1/2, else log1p of minus the mass above,
both exclusive sums, never a difference of two cumulative sums). Neighbouring levels share their
boundary, so the masses telescope and the law sums to 1 for every n, however huge. A level's mass is
computed directly from its two boundaries (:func:`_level_log_mass`), never as a difference of powers.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from . import _validate as V

__all__ = [
    "Levels", "levels", "bon_levels", "quantiles", "bon_probs", "bon_log_probs", "bon_terms", "sample_bon",
    "sample_ref", "bon_log_probs_torch",
]

LOG_HALF = -math.log(2.0)


def _level_log_mass(xp, log_lo, log_hi, log_m, n: float, eps: float):
    """(L,) log(F_hi^n - F_lo^n) per level, -inf for an empty one; ``xp`` is numpy or torch (both twins use it).

    log_lo, log_hi: log F(r-) and log F(r), the level's boundaries; log_m: its directly summed mass.
    The lowest level is told by the structure, nothing below it (log_lo = -inf exactly): its mass is
    F_hi^n. Otherwise F_lo / F_hi is taken as 1 - m / F_hi (log1p) when m < F_hi / 2, else as the
    difference of the two boundaries' logs; when n m / F_hi is below sqrt(eps) a two-term series replaces
    log(-expm1(.)), which would lose m to underflow. Every branch of every where sees safe inputs only
    (the "double where"), so torch's backward never meets 0 * inf.
    """
    has = log_m > float("-inf")
    inner = has & (log_lo > float("-inf"))                  # not empty and not the lowest level
    hi = xp.where(has, log_hi, 0.0)
    lf = xp.where(has, log_m, -1.0) - hi                    # log(m / F_hi) <= 0
    small = inner & (lf < LOG_HALF)
    big = inner & ~small
    lf_s = xp.where(small, lf, -1.0)
    u = xp.exp(lf_s)                                        # m / F_hi in (0, 1/2)
    series = n * u < math.sqrt(eps)
    u_s = xp.where(series, 0.5, u)
    t_small = xp.where(series, math.log(n) + lf_s - 0.5 * (n - 1) * u, xp.log(-xp.expm1(n * xp.log1p(-u_s))))
    d = xp.where(big, log_lo, -1.0) - xp.where(big, hi, 0.0)  # log(F_lo / F_hi) <= log 1/2
    t_big = xp.log(-xp.expm1(n * d))
    tail = xp.where(small, t_small, xp.where(big, t_big, 0.0))
    return xp.where(has, n * hi + tail, float("-inf"))


@dataclass(frozen=True)
class Levels:
    """The reward levels of a finite space, sorted by increasing reward (L = number of levels)."""
    order: np.ndarray     # (K,) an argsort of the rewards (any order inside a level)
    counts: np.ndarray    # (L,) outcomes per level
    reward: np.ndarray    # (L,) the level's reward
    mass: np.ndarray      # (L,) pi_ref mass of the level, summed directly
    below: np.ndarray     # (L,) F(r-) = mass strictly below the level (an exclusive prefix sum)
    above: np.ndarray     # (L,) 1 - F(r) = mass strictly above the level (an exclusive suffix sum)

    def log_bounds(self) -> np.ndarray:
        """(L+1,) log F at the level boundaries, -inf first and 0 last; level i spans [i, i+1].

        Each boundary is taken once, from whichever side is accurate, and shared by its two levels.
        """
        lo = np.append(self.below, self.below[-1] + self.mass[-1])   # (L+1,) mass below each boundary
        hi = np.append(self.mass[0] + self.above[0], self.above)     # (L+1,) mass above each boundary
        with np.errstate(divide="ignore"):
            return np.where(lo <= 0.5, np.log(lo), np.log1p(-np.minimum(hi, 0.5)))

    def log_cdf(self) -> np.ndarray:
        """(L,) log F(r) = log p_le of the level, accurate both near 0 and near 1."""
        return self.log_bounds()[1:]

    def cdf(self) -> np.ndarray:
        """(L,) F(r) = p_le of the level."""
        f = self.below + self.mass
        return np.where(f <= 0.5, f, 1.0 - self.above)

    def to_outcomes(self, per_level: np.ndarray) -> np.ndarray:
        """Spread a (L,) per-level array back to the (K,) outcomes, in their original order."""
        out = np.empty(self.order.size, dtype=np.result_type(per_level))
        out[self.order] = np.repeat(per_level, self.counts)
        return out


def _level_sort(rewards):
    """``(order, starts, counts, level rewards)``: the part of :func:`levels` that depends on the rewards only."""
    order = np.argsort(rewards)                             # (K,) the one sort (stability not needed)
    r_s = rewards[order]                                    # (K,)
    new = np.empty(r_s.size, dtype=bool)
    new[0] = True
    np.not_equal(r_s[1:], r_s[:-1], out=new[1:])
    starts = np.flatnonzero(new)                            # (L,)
    return order, starts, np.diff(np.append(starts, r_s.size)), r_s[starts]


def levels(ref_probs, rewards, *, _checked: bool = False, _sort=None) -> Levels:
    """Group outcomes into reward levels (exact equality of rewards defines a tie). ``_sort``: the rewards'
    :func:`_level_sort`, when a caller keeps it across many ``ref_probs`` (same numbers)."""
    if not _checked:
        ref_probs = V.probs(ref_probs)
        rewards = V.rewards(rewards, ref_probs.size)
    p = ref_probs / ref_probs.sum()                         # renormalised once, here only
    order, starts, counts, r_lv = _level_sort(rewards) if _sort is None else _sort
    mass = np.add.reduceat(p[order], starts)                # (L,)
    below = np.minimum(np.append(0.0, np.cumsum(mass)[:-1]), 1.0)           # exclusive prefix sums
    above = np.minimum(np.append(np.cumsum(mass[::-1])[::-1][1:], 0.0), 1.0)  # exclusive suffix sums
    return Levels(order, counts, r_lv, mass, below, above)


def quantiles(ref_probs, rewards):
    """The paper's ``(p_lt, p_le)`` for every outcome: P[r(y') < r(y)] and P[r(y') <= r(y)], y' ~ pi_ref."""
    lv = levels(ref_probs, rewards)
    return lv.to_outcomes(lv.below), lv.to_outcomes(lv.cdf())


def _level_log_bon(lv: Levels, n: float) -> np.ndarray:
    """(L,) log of the Best-of-n mass of each level, F(r)^n - F(r-)^n, from the shared boundaries."""
    b = lv.log_bounds()                                     # (L+1,)
    with np.errstate(divide="ignore"):
        log_m = np.log(lv.mass)                             # (L,) -inf for an empty level
    return _level_log_mass(np, b[:-1], b[1:], log_m, n, float(np.finfo(np.float64).eps))


def _checked_levels(ref_probs, rewards, n):
    ref_probs = V.probs(ref_probs)
    rewards = V.rewards(rewards, ref_probs.size)
    n = V.n_real(n)
    return ref_probs, levels(ref_probs, rewards, _checked=True), n


def bon_levels(ref_probs, rewards, n):
    """``(levels, log_bon_mass)``: the reward levels and the log Best-of-n mass of each, (L,).

    Level-wise statistics (exact KL, win rate, expected quantile) need nothing finer than this.
    """
    _, lv, n = _checked_levels(ref_probs, rewards, n)
    return lv, _level_log_bon(lv, n)


def _share(ref_probs, lv: Levels):
    """(K,) pi_ref(y) / m(level of y): each outcome's share of its level (0 where pi_ref is 0)."""
    p = ref_probs / ref_probs.sum()                         # the same numbers :func:`levels` summed
    m = lv.to_outcomes(lv.mass)
    return np.where(m > 0, p / np.where(m > 0, m, 1.0), 0.0)


def bon_log_probs(ref_probs, rewards, n) -> np.ndarray:
    """log pi_BoN(y), exact, ties included; -inf exactly where pi_ref is 0.

    Accurate where :func:`bon_probs` underflows (n up to 1e9, pi_ref entries down to 1e-300).
    Sessa et al. 2024, Theorem 1, in its level form; pi_ref is renormalised as :func:`bon_probs` says.
    """
    ref_probs, lv, n = _checked_levels(ref_probs, rewards, n)
    return _log_bon_of_levels(ref_probs, lv, n)


def _log_bon_of_levels(ref_probs, lv: Levels, n: float) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log(_share(ref_probs, lv)) + lv.to_outcomes(_level_log_bon(lv, n))


def bon_probs(ref_probs, rewards, n) -> np.ndarray:
    """pi_BoN(y), exact, ties included (Sessa et al. 2024, Theorem 1).

    For integer n this is the law of "draw n samples from pi_ref, return the first with the highest
    reward". Real n >= 1 continues the level formula F(r)^n - F(r-)^n smoothly.

    Huge n: ``ref_probs`` may miss 1 by up to the check's tolerance (and any float sum misses it by a few
    ulps), while F^n amplifies an error in F n-fold. pi_ref is therefore renormalised once, and every
    level takes its two boundaries F(r-), F(r) from one shared list, so the levels agree about F and the
    result sums to 1 within a few ulps per outcome for every n. It is the exact Best-of-n law of the
    renormalised pi_ref; read it as the law of the input only while n * |sum(ref_probs) - 1| << 1.
    """
    ref_probs, lv, n = _checked_levels(ref_probs, rewards, n)
    level = np.exp(_level_log_bon(lv, n))                   # (L,) level mass <= n m: the ratio stays <= n
    ratio = np.where(lv.mass > 0, level / np.where(lv.mass > 0, lv.mass, 1.0), 0.0)
    return (ref_probs / ref_probs.sum()) * lv.to_outcomes(ratio)


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
    shape = tuple(V.positive_int(s, "size") for s in size) if isinstance(size, (list, tuple)) else (V.positive_int(size, "size"),)
    if len(shape) == 0 or math.prod(shape) > V.MAX_ITEMS:
        raise ValueError(f"size must be a positive int or shape of at most {V.MAX_ITEMS:,} draws, got {size!r}")
    rng = V.rng(rng)
    cdf = np.cumsum(ref_probs)
    cdf /= cdf[-1]
    idx = np.searchsorted(cdf, rng.random(shape), side="right")
    return np.minimum(idx, ref_probs.size - 1)


def sample_bon(ref_probs, rewards, n, size, rng: np.random.Generator, *, chunk: int = 4_000_000) -> np.ndarray:
    """Real Best-of-n sampling: draw n outcomes from pi_ref, keep the first with the highest reward.

    Returns ``size`` outcome indices. Used as the Monte Carlo oracle for :func:`bon_probs`.
    """
    ref_probs = V.probs(ref_probs)
    rewards = V.rewards(rewards, ref_probs.size)
    n = V.n_int(n)
    if n > V.MAX_ITEMS:
        raise ValueError(f"n must be at most {V.MAX_ITEMS:,} for sampling (each pick draws n outcomes), got {n!r}")
    size = V.positive_int(size, "size", most=V.MAX_ITEMS)
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

def _check_torch(log_ref, rewards) -> torch.Tensor:
    """Validate the twin's inputs; returns each row's logsumexp (detached), to renormalise by."""
    for name, t in (("log_ref", log_ref), ("rewards", rewards)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if not t.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor, got dtype {t.dtype}")
    if log_ref.shape != rewards.shape or log_ref.ndim == 0 or log_ref.shape[-1] == 0:
        raise ValueError(f"log_ref {tuple(log_ref.shape)} and rewards {tuple(rewards.shape)} must share a non-empty shape")
    if log_ref.device != rewards.device:
        raise ValueError(f"log_ref is on {log_ref.device} but rewards is on {rewards.device}")
    if torch.isnan(log_ref).any() or (log_ref == float("inf")).any():
        raise ValueError("log_ref contains NaN or +inf")
    if not torch.isfinite(rewards).all():
        raise ValueError("rewards contains NaN or inf")
    total = torch.logsumexp(log_ref.detach(), dim=-1, keepdim=True)          # (..., 1)
    tol = 1e-5 if log_ref.dtype != torch.float64 else 1e-9
    if not ((total.abs() <= tol).all()):
        raise ValueError(f"log_ref rows must be normalised (logsumexp 0), max |logsumexp| = {total.abs().max().item():.3g}")
    return total


def bon_log_probs_torch(log_ref: torch.Tensor, rewards: torch.Tensor, n: float) -> torch.Tensor:
    """Batched log pi_BoN with the semantics of :func:`bon_log_probs`, differentiable in ``log_ref``.

    log_ref: (..., K) log pi_ref, each row normalised (-inf allowed); rewards: (..., K) finite.
    Returns (..., K). Gradients are finite everywhere (0 for -inf entries). Each row is renormalised once
    by its (detached) logsumexp, so the levels share one F. Use float64 where a level's mass relative to
    F(r) is tinier than float32 can hold.
    """
    total = _check_torch(log_ref, rewards)
    n = V.n_real(n)
    r_s, order = torch.sort(rewards, dim=-1, stable=True)                  # (..., K)
    lp = torch.gather(log_ref - total, -1, order)                           # (..., K) sorted log pi_ref
    new = torch.ones_like(r_s, dtype=torch.bool)
    new[..., 1:] = r_s[..., 1:] != r_s[..., :-1]
    lid = new.long().cumsum(-1) - 1                                         # (..., K) level id per slot
    # segment log-sum-exp: per-level max, then sum of exp(lp - max); padded levels beyond L are empty
    seg_max = torch.full_like(lp, float("-inf")).scatter_reduce(-1, lid, lp.detach(), "amax")  # (..., L<=K)
    seg_max = torch.where(torch.isfinite(seg_max), seg_max, torch.zeros_like(seg_max))
    s = torch.zeros_like(lp).scatter_add(-1, lid, torch.exp(lp - torch.gather(seg_max, -1, lid)))
    has = s > 0                                                             # (..., L) non-empty level
    log_m = torch.where(has, torch.log(torch.where(has, s, torch.ones_like(s))) + seg_max, float("-inf"))
    # boundaries: logcumsumexp's backward is NaN at -inf inputs, so empty levels enter at the most negative
    # float (its exp is 0 next to any real mass); "nothing below" is then told from the count of levels
    floor = torch.where(has, log_m, torch.finfo(lp.dtype).min)
    ninf = torch.full_like(lp[..., :1], float("-inf"))
    log_lo = torch.cat([ninf, torch.logcumsumexp(floor, -1)], -1)          # (..., L+1) log mass below
    log_up = torch.cat([torch.logcumsumexp(floor.flip(-1), -1).flip(-1), ninf], -1)  # log mass above
    from_below = log_lo <= LOG_HALF
    bound = torch.where(from_below, log_lo, torch.log1p(-torch.exp(torch.where(from_below, -1.0, log_up))))
    none_below = torch.cat([torch.ones_like(has[..., :1]), has.cumsum(-1) == 0], -1)  # (..., L+1)
    bound = torch.where(none_below, float("-inf"), bound)                   # (..., L+1) log F, shared
    level = _level_log_mass(torch, bound[..., :-1], bound[..., 1:], log_m, n, torch.finfo(lp.dtype).eps)
    share = lp - torch.gather(torch.where(has, log_m, 0.0), -1, lid)        # (..., K) log of the share in its level
    out = torch.where(torch.isfinite(lp), share + torch.gather(torch.where(has, level, 0.0), -1, lid), float("-inf"))
    return torch.empty_like(out).scatter(-1, order, out)
