"""Reward over-optimization on a toy space: Best-of-N on a proxy, scored by the gold reward, exactly.

Gao, Schulman & Hilton 2022 (arXiv 2210.10760): optimise a learned *proxy* reward and the *gold* reward
first rises, then falls. This module runs the whole experiment (notebook 04, ``bondlab toy overopt``):
fit a Bradley-Terry proxy (:mod:`bondlab.proxy`), trace the exact Best-of-N and KL-regularised curves
(:mod:`bondlab.reward_curves`), fit Gao et al.'s forms and pick N (:mod:`bondlab.gao_fit`), and measure
how k-sample quantile estimates distort the target (the quantile view, :mod:`bondlab.quantile_estimates`).

The pieces' names are importable from here too (``from bondlab.overopt import bon_curves`` keeps working).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from . import _validate as V
from .gao_fit import GaoFit, _refine, best_n, best_n_from_fit, fit_gao
from .proxy import Proxy, ProxyConfig, fit_proxy
from .quantile_estimates import QuantileView, mean_plug_in_target, quantile_view
from .reward_curves import (BonCurve, Curves, bon_curve_point, bon_curves, bond_curves, calibration, kl_regularised,
                            policy_curves, rl_curves)
from .spaces import REWARD_SHAPES, Space, grid_mixture

__all__ = ["OveroptConfig", "Curves", "GaoFit", "QuantileView", "Overopt", "make_space", "n_grid", "beta_grid",
           "bon_curve_point", "BonCurve", "bon_curves", "kl_regularised", "rl_curves", "fit_gao", "best_n", "best_n_from_fit",
           "calibration", "mean_plug_in_target", "quantile_view", "policy_curves", "bond_curves", "run_overopt",
           "to_json"]


@dataclass(frozen=True)
class OveroptConfig:
    """One over-optimization experiment: the space, the proxy's training, and the grids."""
    k: int = 201                              # grid points of the toy space on [-1, 1]
    weights: tuple = (0.6, 0.4)               # mixture weights of pi_ref
    means: tuple = (-0.4, 0.4)                # mixture means of pi_ref
    scales: tuple = (0.2, 0.15)               # mixture scales of pi_ref
    gold: str = "bump"                        # gold reward shape (bondlab.spaces.reward_shape): peak at x = 0.5
    m: int = 100                              # labelled comparisons for the proxy
    noise: float = 0.1                        # probability a label is flipped
    features: str = "poly"                    # proxy feature map ('poly', 'rbf', 'onehot')
    capacity: int = 2                         # proxy features (polynomial degree / number of RBFs)
    l2: float = 1e-3                          # L2 penalty of the Bradley-Terry fit
    n_max: int = 10_000                       # largest N of the Best-of-N curve
    n_points: int = 40                        # points of the log grid of N
    beta_min: float = 1e-3                    # smallest beta of the KL-regularised curve (x proxy std)
    beta_max: float = 1e2                     # largest beta (x proxy std)
    n_betas: int = 40                         # points of the log grid of beta
    ks: tuple = (4, 16, 64)                   # reference samples k for the quantile view
    refine: bool = True                       # scan every integer N near the grid's best for the true best N
    seed: int = 0                             # seed of the comparisons (np.random.default_rng(seed))

    def __post_init__(self):
        V.positive_int(self.k, "k")
        ProxyConfig(m=self.m, noise=self.noise, features=self.features, capacity=self.capacity, l2=self.l2)
        if self.gold not in REWARD_SHAPES:
            raise ValueError(f"gold must be one of {REWARD_SHAPES}, got {self.gold!r}")
        V.n_int(self.n_max, "n_max")
        if V.positive_int(self.n_points, "n_points") < 2 or V.positive_int(self.n_betas, "n_betas") < 2:
            raise ValueError("n_points and n_betas must be at least 2")
        if not (0 < float(self.beta_min) < float(self.beta_max) < np.inf):
            raise ValueError(f"need 0 < beta_min < beta_max, got beta_min={self.beta_min!r}, beta_max={self.beta_max!r}")
        for k in self.ks:
            V.positive_int(k, "ks")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")

    def proxy_config(self) -> ProxyConfig:
        return ProxyConfig(m=self.m, noise=self.noise, features=self.features, capacity=self.capacity, l2=self.l2)


@dataclass
class Overopt:
    """Everything one experiment produces."""
    config: OveroptConfig    # what was run
    space: Space             # pi_ref and the gold reward
    proxy: Proxy             # the fitted Bradley-Terry proxy
    bon: Curves              # Best-of-N on the proxy, over N
    rl: Curves               # KL-regularised optimum on the proxy, over beta
    fit_bon: GaoFit          # R_bon fitted to the Best-of-N gold gain
    fit_rl: GaoFit           # R_RL fitted to the KL-regularised gold gain
    best_n_true: int         # the N that maximises the exact gold reward
    best_n_fit: int          # the N whose d maximises the fitted R_bon
    calib: tuple = (0.0, 1.0)  # (intercept, slope): least-squares map of the proxy to gold units under pi_ref
    quantile: QuantileView | None = None  # the quantile view (None when ks is empty)
    extra: dict = field(default_factory=dict)  # anything else worth printing


# ------------------------------------------------------------------------------------------------ grids

def make_space(cfg: OveroptConfig) -> Space:
    """The toy space: a Gaussian mixture pi_ref on a grid, with the gold reward shape."""
    return grid_mixture(cfg.k, weights=cfg.weights, means=cfg.means, scales=cfg.scales, reward=cfg.gold)


def n_grid(n_max: int = 10_000, n_points: int = 40) -> np.ndarray:
    """Distinct integers from 1 to n_max, about log-evenly spaced (at most n_points of them)."""
    n_max = V.n_int(n_max, "n_max")
    n_points = V.positive_int(n_points, "n_points")
    return np.unique(np.round(np.logspace(0.0, np.log10(n_max), n_points)).astype(np.int64))


def beta_grid(proxy, beta_min: float = 1e-3, beta_max: float = 1e2, n_betas: int = 40, ref_probs=None) -> np.ndarray:
    """Log grid of beta, decreasing (so KL increases), scaled by the proxy's std under pi_ref (or overall)."""
    proxy = V.rewards(proxy, name="proxy")
    w = np.full(proxy.size, 1.0 / proxy.size) if ref_probs is None else V.probs(ref_probs)
    std = float(np.sqrt(w @ (proxy - w @ proxy) ** 2)) or 1.0
    return std * np.logspace(np.log10(beta_max), np.log10(beta_min), V.positive_int(n_betas, "n_betas"))


# ------------------------------------------------------------------------------------------------ driver

def run_overopt(cfg: OveroptConfig = OveroptConfig(), *, quantile: bool = True) -> Overopt:
    """Fit the proxy, trace the exact Best-of-N and KL-regularised curves, fit Gao et al.'s forms, pick N."""
    if not isinstance(cfg, OveroptConfig):
        raise ValueError(f"cfg must be an OveroptConfig, got {type(cfg).__name__}")
    space = make_space(cfg)
    proxy = fit_proxy(space.x, space.ref_probs, space.rewards, cfg.proxy_config(), rng=np.random.default_rng(cfg.seed))
    ref, gold, r = space.ref_probs, space.rewards, proxy.rewards
    ns = n_grid(cfg.n_max, cfg.n_points)
    bon = bon_curves(ref, gold, r, ns)
    rl = rl_curves(ref, gold, r, beta_grid(r, cfg.beta_min, cfg.beta_max, cfg.n_betas, ref))
    gold0 = float(ref @ gold)
    fit_bon = fit_gao(bon.d, bon.gold - gold0, "bon")
    fit_rl = fit_gao(rl.d, rl.gold - gold0, "rl")
    i = int(np.argmax(bon.gold))
    curve = BonCurve(ref, gold, r)   # the proxy's levels, taken once for every N below
    n_true = _refine(lambda n: curve(n)[1], ns, i) if cfg.refine else int(ns[i])
    n_fit = best_n_from_fit(fit_bon, ref, r, ns, refine=cfg.refine)
    qv = quantile_view(ref, gold, r, ns, cfg.ks) if (quantile and len(cfg.ks)) else None
    return Overopt(cfg, space, proxy, bon, rl, fit_bon, fit_rl, n_true, n_fit, calibration(ref, gold, r), qv,
                   dict(gold_ref=gold0, gold_max=float(gold.max()),
                        gold_at_best_true=curve(n_true)[1], gold_at_best_fit=curve(n_fit)[1]))


def to_json(res: Overopt) -> dict:
    """The JSON record of ``bondlab toy overopt``: lists over N, the best N both ways, the fits, the config."""
    out = {
        "n": [int(n) for n in res.bon.param],
        "kl": res.bon.kl.tolist(),
        "d": res.bon.d.tolist(),
        "gold": res.bon.gold.tolist(),
        "proxy": res.bon.proxy.tolist(),
        "best_n_true": int(res.best_n_true),
        "best_n_fit": int(res.best_n_fit),
        "fit": {f.form: {"alpha": f.alpha, "beta": f.beta, "d_star": f.d_star, "rmse": f.rmse}
                for f in (res.fit_bon, res.fit_rl)},
        "rl": {"beta": res.rl.param.tolist(), "kl": res.rl.kl.tolist(), "gold": res.rl.gold.tolist(),
               "proxy": res.rl.proxy.tolist()},
        "gold_ref": res.extra["gold_ref"],
        "gold_at_best_true": res.extra["gold_at_best_true"],
        "gold_at_best_fit": res.extra["gold_at_best_fit"],
        "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(res.config).items()},
    }
    if res.quantile is not None:
        q = res.quantile
        out["quantile"] = {"k": q.ks.tolist(), "n": q.n.tolist(), "tv": q.tv.tolist(), "gold": q.gold.tolist(),
                           "gold_exact": q.gold_exact.tolist()}
    return out
