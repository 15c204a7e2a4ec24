"""Gao et al.'s over-optimization forms fitted to gold-gain curves, and the best N read off exactly or from a fit.

Gao, Schulman & Hilton 2022 (arXiv 2210.10760), with d = sqrt(KL(pi || pi_ref)):

    Best-of-N:  R_bon(d) = d (alpha - beta d),       peak at d* = alpha / (2 beta)
    RL:         R_RL(d)  = d (alpha - beta log d),   peak at d* = exp(alpha / beta - 1)

fitted to the gold gain R = E_pi[r_gold] - E_ref[r_gold] of the curves of :mod:`bondlab.reward_curves`.
BOND (Sessa et al. 2024, Sec. 4, "why not one large N") leans on this: N is the regulariser, so it has to
be chosen.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from . import _validate as V
from .reward_curves import BonCurve, bon_curves
from .theory import gao_bon, gao_rl

__all__ = ["GaoFit", "fit_gao", "best_n", "best_n_from_fit"]


@dataclass
class GaoFit:
    """A fitted Gao et al. form, R(d) = d (alpha - beta d) ('bon') or d (alpha - beta log d) ('rl')."""
    form: str                # 'bon' or 'rl'
    alpha: float             # slope at d = 0 (bon) / the linear coefficient (rl)
    beta: float              # curvature coefficient
    d_star: float            # argmax of the fitted curve (inf when it never turns down)
    rmse: float              # root-mean-square residual of the fit

    def __call__(self, d):
        return (gao_bon if self.form == "bon" else gao_rl)(d, self.alpha, self.beta)


def fit_gao(d, gain, form: str = "bon") -> GaoFit:
    """Fit Gao et al.'s R_bon (d (alpha - beta d)) or R_RL (d (alpha - beta log d)) to (d, gold gain).

    Both forms are linear in (alpha, beta); least squares gives the start, scipy.optimize.curve_fit the fit.
    """
    if form not in ("bon", "rl"):
        raise ValueError(f"form must be 'bon' or 'rl', got {form!r}")
    d = np.asarray(d, dtype=np.float64)
    gain = np.asarray(gain, dtype=np.float64)
    if d.ndim != 1 or d.shape != gain.shape:
        raise ValueError(f"d {d.shape} and gain {gain.shape} must be 1-D of one length")
    if not (np.isfinite(d).all() and np.isfinite(gain).all()):
        raise ValueError("d and gain must be finite")
    if np.any(d < 0):
        raise ValueError("d must be >= 0 (it is sqrt KL)")
    keep = d > 0
    if keep.sum() < 2 or np.unique(d[keep]).size < 2:
        raise ValueError("need at least two distinct d > 0 to fit alpha and beta")
    fn = gao_bon if form == "bon" else gao_rl
    dk, gk = d[keep], gain[keep]
    second = dk * dk if form == "bon" else dk * np.log(dk)
    a = np.stack([dk, -second], axis=1)                                  # (P, 2)
    p0 = np.linalg.lstsq(a, gk, rcond=None)[0]
    with warnings.catch_warnings():  # the covariance is unused; with 2 points it cannot be estimated
        warnings.simplefilter("ignore", optimize.OptimizeWarning)
        (alpha, beta), _ = optimize.curve_fit(fn, dk, gk, p0=p0, maxfev=10_000)
    alpha, beta = float(alpha), float(beta)
    if beta <= 0:
        d_star = float("inf")
    else:
        d_star = alpha / (2 * beta) if form == "bon" else float(np.exp(alpha / beta - 1))
    rmse = float(np.sqrt(np.mean((fn(d, alpha, beta) - gain) ** 2)))
    return GaoFit(form, alpha, beta, max(d_star, 0.0), rmse)


def _refine(score, ns, i) -> int:
    """The integer N maximising score(N) among the integers between grid neighbours of ns[i]."""
    lo = int(ns[max(i - 1, 0)])
    hi = int(ns[min(i + 1, ns.size - 1)])
    cand = np.arange(lo, hi + 1)
    vals = np.array([score(n) for n in cand])
    return int(cand[np.argmax(vals)])


def best_n(ref_probs, gold, proxy, ns, *, refine: bool = True) -> int:
    """The N maximising the exact gold reward of Best-of-N on the proxy: the grid's best, then (refine)
    every integer between its grid neighbours."""
    curves = bon_curves(ref_probs, gold, proxy, ns)
    i = int(np.argmax(curves.gold))
    if not refine:
        return int(ns[i])
    curve = BonCurve(ref_probs, gold, proxy)
    return _refine(lambda n: curve(n)[1], np.asarray(ns), i)


def best_n_from_fit(fit: GaoFit, ref_probs, proxy, ns, *, refine: bool = True) -> int:
    """The N whose exact d = sqrt KL(pi_BoN || pi_ref) maximises the fitted R_bon: what a student picks
    from the fitted curve. Largest N of the grid when the fit never turns down within it."""
    ref_probs = V.probs(ref_probs)
    ns = np.asarray(ns)
    curve = BonCurve(ref_probs, proxy, proxy)
    d_of = lambda n: np.sqrt(curve(n)[0])
    ds = np.array([d_of(n) for n in ns])
    i = int(np.argmax(fit(ds)))
    if not refine:
        return int(ns[i])
    return _refine(lambda n: float(fit(d_of(n))), ns, i)
