"""A proxy reward built the way real reward models are: Bradley-Terry on noisy pairwise comparisons.

Gao, Schulman & Hilton 2022 (arXiv 2210.10760) study over-optimization with a *gold* reward and a *proxy*
reward model trained on labels from it. Here, on a finite toy space:

1. draw m pairs (a, b) from pi_ref (the reward model only ever sees what pi_ref produces);
2. label each pair by the gold reward, ``a`` wins iff r_gold(a) > r_gold(b) (ties: a fair coin);
3. flip each label with probability ``noise`` (annotator disagreement);
4. fit r_proxy(y) = phi(x_y) . w by maximum likelihood under Bradley-Terry,
   P[a beats b] = sigmoid(r_proxy(a) - r_proxy(b)), with a small L2 penalty; phi is a feature map of
   limited ``capacity`` (Legendre polynomials, RBF bumps, or one-hot = a free reward per outcome).

The proxy is then right where pi_ref puts mass and free to be wrong in the tails, which is exactly where
Best-of-N with a large N goes looking.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from numpy.polynomial import legendre
from scipy import optimize
from scipy.special import expit, log_expit

from . import _validate as V
from .bon import sample_ref

__all__ = ["ProxyConfig", "Proxy", "FEATURE_KINDS", "feature_map", "sample_comparisons", "fit_bradley_terry",
           "fit_proxy", "pairwise_accuracy"]

FEATURE_KINDS = ("poly", "rbf", "onehot")
NEWTON_MAX_FEATURES = 32  # up to this many features: exact-Hessian trust region; beyond: L-BFGS


@dataclass(frozen=True)
class ProxyConfig:
    """How the proxy reward model is trained."""
    m: int = 200              # number of labelled pairwise comparisons
    noise: float = 0.1        # probability that a comparison's label is flipped
    features: str = "poly"    # feature map: 'poly' (Legendre P_1..P_c), 'rbf' (c Gaussian bumps), 'onehot' (tabular)
    capacity: int = 2         # number of features c (ignored by 'onehot', which has one per outcome)
    l2: float = 1e-3          # L2 penalty on the weights, added to the mean negative log-likelihood

    def __post_init__(self):
        V.positive_int(self.m, "m")
        V.unit_interval(self.noise, "noise")
        if self.features not in FEATURE_KINDS:
            raise ValueError(f"features must be one of {FEATURE_KINDS}, got {self.features!r}")
        V.positive_int(self.capacity, "capacity")
        if not (float(self.l2) >= 0 and np.isfinite(self.l2)):
            raise ValueError(f"l2 must be a finite number >= 0, got {self.l2!r}")


@dataclass
class Proxy:
    """A fitted proxy reward and the data it was fitted on."""
    rewards: np.ndarray      # (K,) r_proxy(y) for every outcome (mean 0 under pi_ref)
    weights: np.ndarray      # (F,) Bradley-Terry weights on the features
    pairs: np.ndarray        # (m, 2) outcome indices (a, b) of the comparisons
    labels: np.ndarray       # (m,) 1.0 where a was labelled the winner, else 0.0 (after flips)
    flipped: np.ndarray      # (m,) True where the label was flipped
    nll: float               # mean negative log-likelihood at the optimum
    config: ProxyConfig      # how it was trained

    def summary(self) -> dict:
        return dict(config=asdict(self.config), nll=self.nll, n_flipped=int(self.flipped.sum()))


def feature_map(x, kind: str = "poly", capacity: int = 2) -> np.ndarray:
    """(K, F) features of the outcome positions x (in [-1, 1]).

    'poly': Legendre P_1..P_capacity (no constant: Bradley-Terry is blind to shifts);
    'rbf': ``capacity`` Gaussian bumps centred evenly on [-1, 1], width the spacing;
    'onehot': the identity, a free reward per outcome (full capacity).
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1 or x.size == 0 or not np.isfinite(x).all():
        raise ValueError(f"x must be a non-empty finite 1-D array, got shape {x.shape}")
    if kind not in FEATURE_KINDS:
        raise ValueError(f"kind must be one of {FEATURE_KINDS}, got {kind!r}")
    c = V.positive_int(capacity, "capacity")
    if kind == "poly":
        return legendre.legvander(x, c)[:, 1:]                         # (K, c)
    if kind == "rbf":
        centres = np.linspace(-1.0, 1.0, c) if c > 1 else np.zeros(1)  # (c,)
        width = 2.0 / max(c - 1, 1)
        return np.exp(-0.5 * ((x[:, None] - centres[None, :]) / width) ** 2)  # (K, c)
    return np.eye(x.size)                                               # (K, K)


def sample_comparisons(ref_probs, gold, m, noise, rng: np.random.Generator):
    """``(pairs, labels, flipped)``: m pairs from pi_ref, labelled by the gold reward, each flipped w.p. noise."""
    ref_probs = V.probs(ref_probs)
    gold = V.rewards(gold, ref_probs.size, "gold")
    m = V.positive_int(m, "m")
    noise = V.unit_interval(noise, "noise")
    rng = V.rng(rng)
    pairs = sample_ref(ref_probs, (m, 2), rng)                          # (m, 2)
    ra, rb = gold[pairs[:, 0]], gold[pairs[:, 1]]
    coin = rng.random(m) < 0.5                                          # tie-break
    clean = np.where(ra == rb, coin, ra > rb)                           # (m,) a wins
    flipped = rng.random(m) < noise                                     # (m,)
    labels = np.where(flipped, ~clean, clean).astype(np.float64)
    return pairs, labels, flipped


def fit_bradley_terry(phi, pairs, labels, l2: float = 1e-3):
    """Maximum-likelihood Bradley-Terry weights: minimise mean_i softplus(-s_i z_i) + l2/2 |w|^2.

    phi: (K, F) features; pairs: (m, 2); labels: (m,) in {0, 1}; z_i = (phi[a_i] - phi[b_i]) . w and
    s_i = +1 when a_i won. The problem is convex (strictly, for l2 > 0); a trust-region Newton method (L-BFGS
    for many features) from w = 0 is deterministic.
    Returns ``(w, mean_nll)``.
    """
    phi = np.asarray(phi, dtype=np.float64)
    pairs = np.asarray(pairs)
    labels = np.asarray(labels, dtype=np.float64)
    if phi.ndim != 2 or not np.isfinite(phi).all():
        raise ValueError(f"phi must be a finite 2-D array, got shape {phi.shape}")
    if pairs.ndim != 2 or pairs.shape[1] != 2 or pairs.shape[0] == 0:
        raise ValueError(f"pairs must have shape (m, 2) with m >= 1, got {pairs.shape}")
    if labels.shape != (pairs.shape[0],) or not np.isin(labels, (0.0, 1.0)).all():
        raise ValueError("labels must be a 0/1 vector with one entry per pair")
    if pairs.min() < 0 or pairs.max() >= phi.shape[0]:
        raise ValueError("pairs index outside the space")
    if not (float(l2) >= 0 and np.isfinite(l2)):
        raise ValueError(f"l2 must be a finite number >= 0, got {l2!r}")
    diff = phi[pairs[:, 0]] - phi[pairs[:, 1]]                          # (m, F)
    s = 2.0 * labels - 1.0                                              # (m,)
    m = diff.shape[0]

    def f(w):
        z = s * (diff @ w)                                              # (m,)
        loss = -log_expit(z).mean() + 0.5 * l2 * (w @ w)
        grad = -(diff.T @ (s * expit(-z))) / m + l2 * w                 # (F,)
        return loss, grad

    def hess(w):
        q = expit(diff @ w)                                             # (m,)
        return (diff.T * (q * (1 - q))) @ diff / m + l2 * np.eye(diff.shape[1])  # (F, F)

    if phi.shape[1] <= NEWTON_MAX_FEATURES:
        res = optimize.minimize(f, np.zeros(phi.shape[1]), jac=True, hess=hess, method="trust-exact",
                                options=dict(gtol=1e-9, maxiter=500))
    else:
        res = optimize.minimize(f, np.zeros(phi.shape[1]), jac=True, method="L-BFGS-B",
                                options=dict(maxiter=5000, gtol=1e-9, ftol=1e-15))
    w = res.x
    return w, float(-log_expit(s * (diff @ w)).mean())


def fit_proxy(x, ref_probs, gold, config: ProxyConfig = ProxyConfig(), *, rng: np.random.Generator) -> Proxy:
    """Sample m comparisons from pi_ref, label them with the gold reward (plus flips), fit Bradley-Terry.

    Same generator state, same proxy. The returned rewards are centred to mean 0 under pi_ref (a shift
    changes neither the Bradley-Terry likelihood nor Best-of-N).
    """
    if not isinstance(config, ProxyConfig):
        raise ValueError(f"config must be a ProxyConfig, got {type(config).__name__}")
    ref_probs = V.probs(ref_probs)
    gold = V.rewards(gold, ref_probs.size, "gold")
    x = np.asarray(x, dtype=np.float64)
    if x.shape != ref_probs.shape:
        raise ValueError(f"x has shape {x.shape} but ref_probs has {ref_probs.shape}")
    phi = feature_map(x, config.features, config.capacity)             # (K, F)
    pairs, labels, flipped = sample_comparisons(ref_probs, gold, config.m, config.noise, rng)
    w, nll = fit_bradley_terry(phi, pairs, labels, config.l2)
    r = phi @ w                                                         # (K,)
    r = r - float(ref_probs @ r)
    return Proxy(r, w, pairs, labels, flipped, nll, config)


def pairwise_accuracy(ref_probs, gold, proxy) -> float:
    """P[proxy orders y, y' like gold] for y, y' ~ pi_ref independently, over pairs the gold tells apart
    (a proxy tie counts one half). Exact: a sum over all K^2 pairs. 1 = perfect ranking, 0.5 = chance."""
    ref_probs = V.probs(ref_probs)
    gold = V.rewards(gold, ref_probs.size, "gold")
    proxy = V.rewards(proxy, ref_probs.size, "proxy")
    w = ref_probs[:, None] * ref_probs[None, :]                          # (K, K)
    sg = np.sign(gold[:, None] - gold[None, :])                          # (K, K)
    agree = np.where(np.sign(proxy[:, None] - proxy[None, :]) == sg, 1.0, 0.0)
    agree = np.where(proxy[:, None] == proxy[None, :], 0.5, agree)
    distinct = sg != 0
    total = float(w[distinct].sum())
    if total <= 0:
        raise ValueError("gold is constant on the support of ref_probs: no pair to rank")
    return float((w * agree)[distinct].sum() / total)
