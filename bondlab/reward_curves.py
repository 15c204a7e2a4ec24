"""Gold and proxy reward of policies on a toy space against their KL to pi_ref, exactly (over-optimization).

Gao, Schulman & Hilton 2022 (arXiv 2210.10760) plot the *gold* reward of policies that optimise a learned
*proxy* reward against d = sqrt(KL(pi || pi_ref)). Here every point is exact: pi_BoN = bon_probs(pi_ref,
r_proxy, N) (Sessa et al. 2024, Theorem 1) summed level by level, the KL-regularised optimum
pi_beta = pi_ref exp(r_proxy / beta) / Z (Sec. 3.3) is a softmax, and any other policy (BOND's) is one
more point. Gao et al.'s fits to these curves live in :mod:`bondlab.gao_fit`; the experiment that draws
them in :mod:`bondlab.overopt`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _validate as V
from .bon import _level_log_bon, levels
from .objectives import rlhf_optimal_probs
from .spaces import Space

__all__ = ["Curves", "bon_curve_point", "BonCurve", "bon_curves", "kl_regularised", "rl_curves", "policy_curves", "bond_curves",
           "calibration"]


@dataclass
class Curves:
    """Expected rewards of a family of policies, indexed by N (Best-of-N) or beta (KL-regularised)."""
    param: np.ndarray        # (P,) N or beta
    kl: np.ndarray           # (P,) KL(pi || pi_ref), nats
    gold: np.ndarray         # (P,) E_pi[r_gold]
    proxy: np.ndarray        # (P,) E_pi[r_proxy]

    @property
    def d(self) -> np.ndarray:
        """(P,) sqrt(KL), Gao et al.'s x-axis."""
        return np.sqrt(self.kl)


def bon_curve_point(ref_probs, gold, proxy, n):
    """``(kl, gold, proxy)`` of pi_BoN = Best-of-n on the proxy, exactly (Sessa et al. 2024, Theorem 1).

    pi_BoN / pi_ref is constant inside a proxy level, so all three are sums over the proxy's levels:
    KL = sum_l b_l log(b_l / m_l), E[r] = sum_l b_l * (pi_ref-weighted mean of r in level l).
    """
    return BonCurve(ref_probs, gold, proxy)(n)


class BonCurve:
    """:func:`bon_curve_point` for one ``(ref_probs, gold, proxy)`` and many n: the proxy's levels and the
    level means of gold are taken once, then each ``curve(n)`` is the same numbers for a few level sums."""

    def __init__(self, ref_probs, gold, proxy):
        ref_probs = V.probs(ref_probs)
        self.levels = lv = levels(ref_probs, V.rewards(proxy, ref_probs.size), _checked=True)
        p = ref_probs[lv.order]                                             # (K,) in level order
        starts = np.cumsum(lv.counts) - lv.counts                           # (L,)
        gold_l = np.add.reduceat(p * np.asarray(gold, dtype=np.float64)[lv.order], starts)  # (L,) mass-weighted
        with np.errstate(invalid="ignore", divide="ignore"):
            self.gold_mean = np.where(lv.mass > 0, gold_l / np.where(lv.mass > 0, lv.mass, 1.0), 0.0)

    def __call__(self, n):
        lv = self.levels
        log_b = _level_log_bon(lv, V.n_real(n))                             # (L,) log Best-of-n level mass
        b = np.exp(log_b)
        live = b > 0
        kl = max(0.0, float(np.sum(b[live] * (log_b[live] - np.log(lv.mass[live])))))
        return kl, float(b @ self.gold_mean), float(b @ lv.reward)


def _check_pair(ref_probs, gold, proxy):
    ref_probs = V.probs(ref_probs)
    return ref_probs, V.rewards(gold, ref_probs.size, "gold"), V.rewards(proxy, ref_probs.size, "proxy")


def bon_curves(ref_probs, gold, proxy, ns) -> Curves:
    """Exact gold and proxy expected reward, and KL, of Best-of-N on the proxy for every N in ``ns``."""
    ref_probs, gold, proxy = _check_pair(ref_probs, gold, proxy)
    ns = np.asarray(ns, dtype=np.float64)
    if ns.ndim != 1 or ns.size == 0:
        raise ValueError("ns must be a non-empty 1-D list of N >= 1")
    for n in ns:
        V.n_real(n, "ns")
    curve = BonCurve(ref_probs, gold, proxy)
    pts = np.array([curve(n) for n in ns])  # (P, 3)
    return Curves(ns, pts[:, 0], pts[:, 1], pts[:, 2])


def kl_regularised(ref_probs, proxy, beta) -> np.ndarray:
    """pi_beta = pi_ref exp(r_proxy / beta) / Z: the optimum of E_pi[r] - beta KL(pi || pi_ref) (Sec. 3.3).

    :func:`bondlab.objectives.rlhf_optimal_probs` with the proxy as the reward and beta as beta_RL."""
    ref_probs = V.probs(ref_probs)
    proxy = V.rewards(proxy, ref_probs.size, "proxy")
    b = float(beta)
    if not (b > 0 and np.isfinite(b)):
        raise ValueError(f"beta must be a finite number > 0, got {beta!r}")
    return rlhf_optimal_probs(ref_probs, proxy, b)


def rl_curves(ref_probs, gold, proxy, betas) -> Curves:
    """Exact gold and proxy expected reward, and KL, of the KL-regularised optimum for every beta."""
    ref_probs, gold, proxy = _check_pair(ref_probs, gold, proxy)
    betas = np.asarray(betas, dtype=np.float64)
    if betas.ndim != 1 or betas.size == 0:
        raise ValueError("betas must be a non-empty 1-D list of numbers > 0")
    live = ref_probs > 0
    out = []
    for b in betas:
        pi = kl_regularised(ref_probs, proxy, b)
        on = live & (pi > 0)
        kl = max(0.0, float(np.sum(pi[on] * (np.log(pi[on]) - np.log(ref_probs[on])))))
        out.append((kl, pi @ gold, pi @ proxy))
    out = np.array(out)
    return Curves(betas, out[:, 0], out[:, 1], out[:, 2])


def policy_curves(ref_probs, gold, proxy, policies, params=None) -> Curves:
    """The same three numbers (KL to pi_ref, gold, proxy) for any list of policies on the space, e.g. the
    policies BOND or J-BOND distil (:mod:`bondlab.train`), so they can join the Best-of-N curves."""
    ref_probs, gold, proxy = _check_pair(ref_probs, gold, proxy)
    rows = []
    for i, pi in enumerate(policies):
        pi = V.probs(pi, f"policies[{i}]")
        if pi.size != ref_probs.size:
            raise ValueError(f"policies[{i}] has length {pi.size} but ref_probs has {ref_probs.size}")
        on = pi > 0
        if np.any(ref_probs[on] == 0):
            raise ValueError(f"policies[{i}] puts mass where pi_ref has none: KL is infinite")
        rows.append((max(0.0, float(np.sum(pi[on] * np.log(pi[on] / ref_probs[on])))), pi @ gold, pi @ proxy))
    rows = np.array(rows).reshape(-1, 3)
    param = np.arange(len(rows), dtype=np.float64) if params is None else np.asarray(params, dtype=np.float64)
    return Curves(param, rows[:, 0], rows[:, 1], rows[:, 2])


def bond_curves(space: Space, proxy, ns, *, family: str = "gaussian", steps: int = 300, lr: float = 0.01,
                objective: str = "jeffreys", seed: int = 0) -> Curves:
    """BOND (Sessa et al. 2024, Sec. 4, Jeffreys beta = 0.5, exact gradients) distilling Best-of-N on the
    proxy into a policy ``family`` for every N in ``ns``; the final policies' KL, gold and proxy rewards.
    A restricted family ('gaussian') cannot match pi_BoN exactly, so its points sit off the BoN curve."""
    from .train import BondConfig, train_bond  # torch training loop; only needed here

    if not isinstance(space, Space):
        raise ValueError(f"space must be a bondlab.spaces.Space, got {type(space).__name__}")
    proxy = V.rewards(proxy, space.ref_probs.size, "proxy")
    on_proxy = Space(space.x, space.ref_probs, proxy, name="proxy")
    pols = []
    for n in ns:
        policy, _ = train_bond(on_proxy, BondConfig(objective=objective, n=float(V.n_real(n, "ns")), family=family,
                                                    gradient="exact", steps=steps, lr=lr, seed=seed))
        pols.append(policy.probs_np())
    return policy_curves(space.ref_probs, space.rewards, proxy, pols, ns)


def calibration(ref_probs, gold, proxy):
    """``(a, b)``: least squares gold ~ a + b proxy under pi_ref, to draw the proxy in gold units."""
    ref_probs, gold, proxy = _check_pair(ref_probs, gold, proxy)
    mp, mg = ref_probs @ proxy, ref_probs @ gold
    var = ref_probs @ (proxy - mp) ** 2
    b = float(ref_probs @ ((proxy - mp) * (gold - mg)) / var) if var > 0 else 0.0
    return float(mg - b * mp), b
