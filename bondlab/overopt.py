"""Reward over-optimization on a toy space: Best-of-N on a proxy, scored by the gold reward, exactly.

Gao, Schulman & Hilton 2022 (arXiv 2210.10760): optimise a learned *proxy* reward and the *gold* reward
first rises, then falls. With d = sqrt(KL(pi || pi_ref)) they fit

    Best-of-N:  R_bon(d) = d (alpha - beta d),       peak at d* = alpha / (2 beta)
    RL:         R_RL(d)  = d (alpha - beta log d),   peak at d* = exp(alpha / beta - 1)

to the gold gain R = E_pi[r_gold] - E_ref[r_gold]. BOND (Sessa et al. 2024, Sec. 4, "why not one large
N") leans on this: N is the regulariser, so it has to be chosen. Here everything is exact:
pi_BoN = bon_probs(pi_ref, r_proxy, N) (Theorem 1), its gold reward is an expectation of r_gold under it,
and the KL-regularised optimum pi_beta = pi_ref exp(r_proxy / beta) / Z (Sec. 3.3) is a softmax.

The quantile view: BOND's backward term needs p_le(y)^(N-1), estimated from k reference samples
(Sec. 4.2). E[p_hat^(N-1)] tends to p_le^k as N grows, so the estimated target stops sharpening near
N ~ k + 1 while the true one keeps going: the error compounds with N.
"""
from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import optimize, stats

from . import _validate as V
from .bon import bon_levels, quantiles
from .proxy import Proxy, ProxyConfig, fit_proxy
from .quantile_estimates import plug_in_bon_probs
from .spaces import REWARD_SHAPES, Space, grid_mixture
from .theory import gao_bon, gao_rl

__all__ = ["OveroptConfig", "Curves", "GaoFit", "QuantileView", "Overopt", "make_space", "n_grid", "beta_grid",
           "bon_curve_point", "bon_curves", "kl_regularised", "rl_curves", "fit_gao", "best_n", "best_n_from_fit",
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


# ------------------------------------------------------------------------------------------------ curves

def bon_curve_point(ref_probs, gold, proxy, n):
    """``(kl, gold, proxy)`` of pi_BoN = Best-of-n on the proxy, exactly (Sessa et al. 2024, Theorem 1).

    pi_BoN / pi_ref is constant inside a proxy level, so all three are sums over the proxy's levels:
    KL = sum_l b_l log(b_l / m_l), E[r] = sum_l b_l * (pi_ref-weighted mean of r in level l).
    """
    lv, log_b = bon_levels(ref_probs, proxy, n)                         # (L,) log Best-of-n level mass
    b = np.exp(log_b)
    live = b > 0
    kl = max(0.0, float(np.sum(b[live] * (log_b[live] - np.log(lv.mass[live])))))
    p = np.asarray(ref_probs, dtype=np.float64)[lv.order]               # (K,) in level order
    starts = np.cumsum(lv.counts) - lv.counts                           # (L,)
    gold_l = np.add.reduceat(p * np.asarray(gold, dtype=np.float64)[lv.order], starts)  # (L,) mass-weighted
    with np.errstate(invalid="ignore", divide="ignore"):
        gold_mean = np.where(lv.mass > 0, gold_l / np.where(lv.mass > 0, lv.mass, 1.0), 0.0)
    return kl, float(b @ gold_mean), float(b @ lv.reward)


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
    pts = np.array([bon_curve_point(ref_probs, gold, proxy, n) for n in ns])  # (P, 3)
    return Curves(ns, pts[:, 0], pts[:, 1], pts[:, 2])


def kl_regularised(ref_probs, proxy, beta) -> np.ndarray:
    """pi_beta = pi_ref exp(r_proxy / beta) / Z: the optimum of E_pi[r] - beta KL(pi || pi_ref) (Sec. 3.3)."""
    ref_probs = V.probs(ref_probs)
    proxy = V.rewards(proxy, ref_probs.size, "proxy")
    b = float(beta)
    if not (b > 0 and np.isfinite(b)):
        raise ValueError(f"beta must be a finite number > 0, got {beta!r}")
    with np.errstate(divide="ignore"):
        logits = np.log(ref_probs) + proxy / b                           # (K,)
    logits -= logits.max()
    w = np.exp(logits)
    return w / w.sum()


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


# ------------------------------------------------------------------------------------------------ fits

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
    return _refine(lambda n: bon_curve_point(ref_probs, gold, proxy, n)[1], np.asarray(ns), i)


def best_n_from_fit(fit: GaoFit, ref_probs, proxy, ns, *, refine: bool = True) -> int:
    """The N whose exact d = sqrt KL(pi_BoN || pi_ref) maximises the fitted R_bon: what a student picks
    from the fitted curve. Largest N of the grid when the fit never turns down within it."""
    ref_probs = V.probs(ref_probs)
    ns = np.asarray(ns)
    d_of = lambda n: np.sqrt(bon_curve_point(ref_probs, proxy, proxy, n)[0])
    ds = np.array([d_of(n) for n in ns])
    i = int(np.argmax(fit(ds)))
    if not refine:
        return int(ns[i])
    return _refine(lambda n: float(fit(d_of(n))), ns, i)


def calibration(ref_probs, gold, proxy):
    """``(a, b)``: least squares gold ~ a + b proxy under pi_ref, to draw the proxy in gold units."""
    ref_probs, gold, proxy = _check_pair(ref_probs, gold, proxy)
    mp, mg = ref_probs @ proxy, ref_probs @ gold
    var = ref_probs @ (proxy - mp) ** 2
    b = float(ref_probs @ ((proxy - mp) * (gold - mg)) / var) if var > 0 else 0.0
    return float(mg - b * mp), b


# ------------------------------------------------------------------------------------------------ quantiles

def mean_plug_in_target(ref_probs, rewards, n, k, clamp: float | None = None) -> np.ndarray:
    """pi_ref(y) E[p_hat_le(y)^(n-1)] / Z, exactly, with p_hat_le = max(Binomial(k, p_le)/k, clamp).

    The Best-of-n target built from k-sample quantile estimates (Sessa et al. 2024, Sec. 4.2, term (B)
    dropped as in the paper), averaged over the estimate's randomness. Clamp as in
    :func:`bondlab.quantile_estimates.mc_p_le` (1/(2k) by default). As n grows, E[p_hat^(n-1)] -> P[X = k] = p_le^k:
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
    ref_probs, gold, proxy = _check_pair(ref_probs, gold, proxy)
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
    n_true = _refine(lambda n: bon_curve_point(ref, gold, r, n)[1], ns, i) if cfg.refine else int(ns[i])
    n_fit = best_n_from_fit(fit_bon, ref, r, ns, refine=cfg.refine)
    qv = quantile_view(ref, gold, r, ns, cfg.ks) if (quantile and len(cfg.ks)) else None
    return Overopt(cfg, space, proxy, bon, rl, fit_bon, fit_rl, n_true, n_fit, calibration(ref, gold, r), qv,
                   dict(gold_ref=gold0, gold_max=float(gold.max()),
                        gold_at_best_true=bon_curve_point(ref, gold, r, n_true)[1],
                        gold_at_best_fit=bon_curve_point(ref, gold, r, n_fit)[1]))


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
