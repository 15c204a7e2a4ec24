"""J-BOND's own error: the exact minimiser of its loss per anchor period, iterated (Sessa et al. 2024, Sec. 5).

With the anchor a held fixed, the expected J-BOND loss (``bondlab.objectives.jbond_objective_exact``) is

    L(pi) = (1 - beta) KL(BoN_2(a) || pi) + (beta + gamma) KL(pi || a) - beta E_pi[rbar_J],
    rbar_J(y) = -log(16) P_{y'~a}[r(y') > r(y)]^2.

On the simplex it is strictly convex for beta + gamma > 0; with t = BoN_2(a), c = beta + gamma and
d_y = (1 - beta) t_y, stationarity reads, for each y with a_y > 0 (pi_y = 0 elsewhere),

    -d_y / pi_y + c (log pi_y - log a_y + 1) - beta rbar_y + lambda = 0.

With k_y = 1 - log a_y - beta rbar_y / c and mu = lambda / c, w_y = log pi_y + k_y + mu solves
w e^w = z_y = (d_y / c) e^(k_y + mu): w_y = W(z_y) (Lambert W) and log pi_y = log(d_y / c) - log w_y, exact even
where w and mu are huge (beta + gamma -> 0). log W comes from Newton on e^s + s = log z (convex, increasing,
started above the root: monotone), mu from safeguarded Newton on logsumexp(log pi(mu)) = 0 (decreasing in mu).
No (S, S) matrix is built: P[r(y') > r(y)] comes from sorted rewards and a reverse cumulative sum.
``converged_rounds`` applies the minimiser ``rounds`` times from pi_ref: where J-BOND would end with exact
gradients and an anchor that converges exactly each period, measured against Best-of-2^m of pi_ref.
"""
from __future__ import annotations

import math

import torch

from .. import _validate as V
from ..bon import bon_log_probs_torch
from .exact import exact_bon_log_probs, exact_kl

__all__ = ["jbond_round_exact", "converged_rounds"]

LOG16 = math.log(16.0)


def _inputs(log_anchor, rewards, beta, gamma, name="log_anchor"):
    beta = V.unit_interval(beta, "beta")
    gamma = V.scalar(gamma, "gamma")
    if not math.isfinite(gamma) or gamma < 0:
        raise ValueError(f"gamma must be a finite number >= 0, got {gamma!r}")
    for n, t in ((name, log_anchor), ("rewards", rewards)):
        if not isinstance(t, torch.Tensor) or not t.is_floating_point() or t.ndim != 1 or t.numel() == 0:
            raise ValueError(f"{n} must be a non-empty 1-D floating-point torch tensor")
    if log_anchor.shape != rewards.shape:
        raise ValueError(f"{name} {tuple(log_anchor.shape)} and rewards {tuple(rewards.shape)} must have one shape")
    la, r = log_anchor.detach().double(), rewards.detach().double()
    if torch.isnan(la).any() or torch.isposinf(la).any() or abs(torch.logsumexp(la, 0).item()) > 1e-9:
        raise ValueError(f"{name} must be normalised log-probabilities (no NaN or +inf, logsumexp 0 to 1e-9)")
    if not torch.isfinite(r).all():
        raise ValueError("rewards contains NaN or inf")
    return la, r, beta, gamma


def _p_above(la: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """(S,) P_{y'~a}[r(y') > r(y)], strictly greater (ties excluded)."""
    r_s, order = torch.sort(r)                                                        # (S,) ascending
    p_s = torch.exp(la)[order]                                                        # (S,)
    tail = torch.cat([torch.flip(torch.cumsum(torch.flip(p_s, [0]), 0), [0]), p_s.new_zeros(1)])  # (S+1,) mass from i on
    return tail[torch.searchsorted(r_s, r, right=True)]                              # first index with r_s > r(y)


def _log_lambert_w(log_z: torch.Tensor) -> torch.Tensor:
    """(S,) log W(exp(log_z)) (-inf where log_z = -inf), by Newton on s = log W: e^s + s = log_z."""
    s = torch.where(log_z > 1, torch.log(log_z.clamp(min=1)), log_z)               # above the root
    live = torch.isfinite(s)
    for _ in range(100):
        step = torch.where(live, (torch.exp(s) + s - log_z) / (torch.exp(s) + 1), torch.zeros_like(s))
        s = s - step
        if (step.abs() <= 1e-12 * (1 + s.abs())).all():      # quadratic: the error left is ~step^2
            break
    return s


def jbond_round_exact(log_anchor: torch.Tensor, rewards: torch.Tensor, beta: float, gamma: float = 0.0) -> torch.Tensor:
    """(S,) float64 log pi of the exact minimiser, over all laws on the space, of the J-BOND loss with the
    anchor fixed: (1 - beta) KL(BoN_2(a) || pi) + beta [KL(pi || a) - E_pi[rbar_J]] + gamma KL(pi || a).
    log_anchor (S,) normalised log a (-inf allowed), rewards (S,); beta in [0, 1], gamma >= 0."""
    la, r, beta, gamma = _inputs(log_anchor, rewards, beta, gamma)
    log_t = bon_log_probs_torch(la, r, 2)                                            # (S,) log BoN_2(a)
    c = beta + gamma
    if c == 0.0:                                                                      # beta = gamma = 0: pi = t
        return log_t
    rbar = -LOG16 * _p_above(la, r) ** 2                                              # (S,) rbar_J
    live = torch.isfinite(la)                                                         # a_y > 0
    neg = torch.full_like(la, float("-inf"))
    if beta == 1.0:                                                                   # no forward-KL term
        lp = torch.where(live, la + beta * rbar / c, neg)
        return lp - torch.logsumexp(lp, 0)
    k = torch.where(live, 1 - la - beta * rbar / c, torch.zeros_like(la))            # (S,)
    log_dc = torch.where(live, math.log1p(-beta) - math.log(c) + log_t, neg)         # (S,) log(d / c)

    def f(mu):                                                                        # log pi(mu), its logsumexp, slope
        s = _log_lambert_w(log_dc + k + mu)                                           # (S,) log w
        lp = torch.where(torch.isfinite(s), log_dc - s, -k - mu)                     # c w = d / pi; d = 0: w = 0
        lp, w = torch.where(live, lp, neg), torch.exp(s)
        lse = torch.logsumexp(lp, 0)
        return lp, lse.item(), -(torch.exp(lp - lse) / (1 + w)).sum().item()     # d lse / d mu in [-1, 0)

    lo = torch.logsumexp(torch.where(live, -k, neg), 0).item()                     # w > 0: lse(lo) > 0
    step, hi = 1.0, None
    while hi is None:                                                                 # expand until lse(hi) <= 0
        if f(lo + step)[1] <= 0:
            hi = lo + step
        else:
            lo, step = lo + step, 2 * step
    mu = 0.5 * (lo + hi)
    for _ in range(200):
        lp, g, dg = f(mu)
        lo, hi = (mu, hi) if g > 0 else (lo, mu)
        if abs(g) <= 1e-14 or hi - lo <= 1e-15 * (1 + abs(mu)):
            break
        nxt = mu - g / dg                                                             # Newton, kept inside [lo, hi]
        mu = nxt if lo < nxt < hi else 0.5 * (lo + hi)
    return lp - torch.logsumexp(lp, 0)


def converged_rounds(log_ref: torch.Tensor, rewards: torch.Tensor, beta: float, rounds: int,
                     gamma: float = 0.0) -> dict:
    """Iterate a <- jbond_round_exact(a) ``rounds`` times from a = pi_ref. Returns, per round m = 1..rounds,
    ``kl_pi_bon`` = KL(pi_m || BoN_{2^m}(pi_ref)), ``kl_bon_pi`` = KL(BoN_{2^m}(pi_ref) || pi_m) and
    ``kl_pi_ref`` = KL(pi_m || pi_ref) (lists of floats, nats), and ``log_probs``, the final (S,) log pi."""
    la, r, beta, gamma = _inputs(log_ref, rewards, beta, gamma, "log_ref")
    rounds = V.positive_int(rounds, "rounds")
    if rounds > 60:
        raise ValueError(f"rounds must be at most 60 (the target is Best-of-2^rounds), got {rounds!r}")
    out = {"kl_pi_bon": [], "kl_bon_pi": [], "kl_pi_ref": []}
    a = la
    for m in range(1, rounds + 1):
        a = jbond_round_exact(a, r, beta, gamma)
        bon = exact_bon_log_probs(la, r, 2 ** m)                                      # (S,) Best-of-2^m of pi_ref
        for key, (p, q) in (("kl_pi_bon", (a, bon)), ("kl_bon_pi", (bon, a)), ("kl_pi_ref", (a, la))):
            out[key].append(max(0.0, exact_kl(p, q).item()))   # a KL is >= 0; rounding can leave -4e-16
    out["log_probs"] = a
    return out
