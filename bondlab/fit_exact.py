"""The exact-gradient toy trainers with their inner loop vectorised: numpy, no autograd, several runs at once.

``train_bond`` / ``train_iterative`` / ``train_jbond`` with ``gradient="exact"`` take one Adam step per loop
through torch autograd, then compute eight exact metrics. Here the same steps run on a (B, P) array of
parameters for B runs together: the objective's gradient in the logits is written out (as in
:mod:`bondlab.divergences`, in log space), chained through the family (tabular logits, or a discretised
Gaussian's mu and log sigma), and Adam is torch's elementwise update. The metrics are taken once, after the
loop, on the (steps, B, K) log-probabilities. Same numbers as the torch trainers up to float64 rounding
(``tests/test_fit_exact.py`` compares them); the notebook panels use these so a slider answers at once.
"""
from __future__ import annotations

import numpy as np

from . import _validate as V
from .bon import _level_sort, _log_bon_of_levels, bon_log_probs, levels, quantiles
from .objectives import LOG16
from .spaces import Space
from .train import METRICS

__all__ = ["fit_bond_exact", "iterative_exact", "jbond_exact"]


def _log_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


class _Family:
    """(B, P) parameters of B policies of one family on grid x: their logits and the chain rule back."""

    def __init__(self, family: str, space: Space, b: int):
        p = space.ref_probs / space.ref_probs.sum()
        self.family, self.x = family, np.asarray(space.x, dtype=np.float64)
        if family == "tabular":
            if np.any(p <= 0):
                raise ValueError("probs must be > 0 everywhere for a tabular softmax (log 0 is not a logit)")
            self.params = np.tile(np.log(p), (b, 1))                                  # (B, K) logits
        elif family == "gaussian":
            mean = float(p @ self.x)
            std = max(float(np.sqrt(p @ (self.x - mean) ** 2)), 1e-3 * float(np.ptp(self.x)))
            self.params = np.tile([mean, np.log(std)], (b, 1))                       # (B, 2) mu, log sigma
        else:
            raise ValueError(f"family must be 'tabular' or 'gaussian', got {family!r}")

    def log_probs(self, params=None):
        params = self.params if params is None else params
        if self.family == "tabular":
            return _log_softmax(params)
        z = (self.x - params[:, :1]) / np.exp(params[:, 1:])                          # (B, K)
        return _log_softmax(-0.5 * z * z)

    def grad(self, g_logits):
        """(B, P) gradient in the parameters from (B, K) gradients in the logits."""
        if self.family == "tabular":
            return g_logits
        z = (self.x - self.params[:, :1]) / np.exp(self.params[:, 1:])              # (B, K)
        return np.stack([(g_logits * z).sum(-1) / np.exp(self.params[:, 1]), (g_logits * z * z).sum(-1)], axis=-1)


class _Adam:
    """torch.optim.Adam's update (defaults, no weight decay), elementwise on one array."""

    def __init__(self, shape, lr: float, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8):
        self.lr, self.b1, self.b2, self.eps = lr, b1, b2, eps
        self.m, self.v, self.t = np.zeros(shape), np.zeros(shape), 0

    def step(self, params, grad):
        self.t += 1
        self.m += (1 - self.b1) * (grad - self.m)                                     # torch: lerp
        self.v = self.v * self.b2 + (1 - self.b2) * grad * grad
        denom = np.sqrt(self.v) / np.sqrt(1 - self.b2 ** self.t) + self.eps
        params -= (self.lr / (1 - self.b1 ** self.t)) * self.m / denom


def _grad_fwd(lp, lt):
    """d KL(target || pi) / d logits = pi * sum(target) - target, (B, K)."""
    t = np.exp(lt)
    return np.exp(lp) * t.sum(-1, keepdims=True) - t


def _grad_kl(lp, lq):
    """d KL(pi || q) / d logits = pi (d + 1) - pi sum(pi (d + 1)), d = log pi - log q (0 log 0 = 0), (B, K)."""
    p = np.exp(lp)
    with np.errstate(invalid="ignore"):
        g = np.where(p > 0, p * (lp - lq + 1), 0.0)
    return g - p * g.sum(-1, keepdims=True)


def _kl_rows(lp, lq):
    """KL(p || q) over the last axis from log-probs, 0 log 0 = 0, clipped at 0 (as bondlab.divergences.kl_log)."""
    p = np.exp(lp)
    with np.errstate(invalid="ignore"):
        terms = np.where(lp > -np.inf, p * (lp - lq), 0.0)
    return np.maximum(terms.sum(-1), 0.0)


def _metrics(lp, lt, la, space: Space, beta: float, p_le):
    """The histories of :data:`bondlab.train.METRICS` for B runs: lp (S, B, K) policies after each step,
    lt targets and la anchors (S, B, K) or broadcastable. Returns a list of B dicts of lists."""
    pi = np.exp(lp)
    pi = pi / pi.sum(-1, keepdims=True)
    with np.errstate(divide="ignore"):
        lpi, lref = np.log(pi), np.log(space.ref_probs)
    h = np.where(pi > 0, pi * np.where(pi > 0, lpi, 0.0), 0.0)
    fwd, bwd = _kl_rows(lt, lp), _kl_rows(lp, lt)
    vals = dict(fwd_kl=fwd, bwd_kl=bwd, jeffreys=(1 - beta) * fwd + beta * bwd, kl_ref=_kl_rows(lpi, lref),
                kl_anchor=_kl_rows(lpi, la), quantile=pi @ p_le, reward=pi @ space.rewards,
                entropy=-h.sum(-1))                                                   # each (S, B)
    return [{m: vals[m][:, i].tolist() for m in METRICS} for i in range(lp.shape[1])]


def _bon_log(rewards, n):
    """``p -> bon_log_probs(p, rewards, n)`` for one fixed rewards vector and n, on the policies' own (valid)
    probabilities, with the rewards' sort taken once. For a whole n <= 8 (the panels' n; J-BOND's 2), in fewer
    operations: F_hi^n - F_lo^n = m sum_k F_hi^k F_lo^(n-1-k), a sum of positive terms (no cancellation), so
    log pi_BoN(y) = log pi(y) + log sum_k F_hi^k F_lo^(n-1-k) agrees with the general form to float64 rounding
    (tests/test_fit_exact.py). Otherwise the general form's own numbers."""
    r, n = V.rewards(rewards), V.n_real(n)
    sort = _level_sort(r)
    if n != int(n) or n > 8:
        return lambda p: _log_bon_of_levels(p, levels(p, r, _checked=True, _sort=sort), n)
    order, starts, counts, _ = sort
    whole = int(n)

    def log_bon(p):
        p = p / p.sum()
        mass = np.add.reduceat(p[order], starts)                                          # (L,) as levels()
        lo = np.minimum(np.append(0.0, np.cumsum(mass)[:-1]), 1.0)                        # F(r-)
        hi = lo + mass                                                                    # F(r)
        tot = lo ** (whole - 1)
        for j in range(1, whole):
            tot = tot + hi ** j * lo ** (whole - 1 - j)
        out = np.empty_like(p)
        out[order] = np.repeat(tot, counts)
        with np.errstate(divide="ignore"):
            return np.log(p) + np.log(out)
    return log_bon


def _check(space, steps, lr):
    if not isinstance(space, Space):
        raise ValueError(f"space must be a bondlab.spaces.Space, got {type(space).__name__}")
    if not (float(lr) > 0):
        raise ValueError(f"lr must be > 0, got {lr!r}")
    return V.positive_int(steps, "steps"), float(lr)


def fit_bond_exact(space: Space, n, betas, family: str = "tabular", steps: int = 200, lr: float = 0.1,
                   beta: float = 0.5):
    """B = len(betas) exact-gradient BOND fits of Best-of-n(pi_ref) at once, Jeffreys weight ``betas[i]``
    (forward 0, backward 1): ``train_bond(space, BondConfig(gradient="exact", ...))`` for each. ``beta`` is
    the weight of the recorded ``jeffreys`` metric. Returns ``(probs (B, K), [history, ...])``."""
    steps, lr = _check(space, steps, lr)
    w = np.array([V.unit_interval(b, "betas") for b in betas], dtype=np.float64)[:, None]   # (B, 1)
    fam = _Family(family, space, w.shape[0])
    lt = bon_log_probs(space.ref_probs, space.rewards, n)                                  # (K,)
    opt, lps, lp = _Adam(fam.params.shape, lr), [], fam.log_probs()                      # lp: (B, K)
    for _ in range(steps):
        g = (1 - w) * _grad_fwd(lp, lt) + w * _grad_kl(lp, lt)
        opt.step(fam.params, fam.grad(g))
        lp = fam.log_probs()                                                               # the next step's too
        lps.append(lp)
    lp = np.stack(lps)                                                                     # (S, B, K)
    with np.errstate(divide="ignore"):
        la = np.log(space.ref_probs / space.ref_probs.sum())
    return np.exp(lp[-1]), _metrics(lp, lt, la, space, beta, quantiles(space.ref_probs, space.rewards)[1])


def iterative_exact(space: Space, n, rounds: int, period: int, eta: float = 0.0, beta: float = 0.5,
                    family: str = "tabular", lr: float = 0.05):
    """``train_iterative`` with ``gradient="exact"`` and the Jeffreys objective: ``rounds * period`` steps
    against Best-of-n(anchor), the anchor reset every ``period`` steps (with fresh Adam moments) or, with
    ``eta > 0``, moved by EMA after each step. Returns ``(probs (K,), history)`` with ``bon_equivalent_n``
    and ``round_end`` as there."""
    steps, lr = _check(space, V.positive_int(rounds, "rounds") * V.positive_int(period, "period"), lr)
    n, eta, beta = V.n_real(n), V.unit_interval(eta, "eta"), V.unit_interval(beta, "beta")
    fam = _Family(family, space, 1)
    anchor = fam.params.copy()
    bon_log = _bon_log(space.rewards, n)
    la = fam.log_probs(anchor)                                                             # (1, K)
    lt = bon_log(np.exp(la[0]))[None]
    opt, lps, lts, las = _Adam(fam.params.shape, lr), [], [], []
    hist_n, ends, lp = [], [], fam.log_probs()
    for t in range(steps):
        opt.step(fam.params, fam.grad((1 - beta) * _grad_fwd(lp, lt) + beta * _grad_kl(lp, lt)))
        lp = fam.log_probs()                                                               # the next step's too
        lps.append(lp)
        lts.append(lt)
        las.append(la)
        if eta > 0:
            anchor = (1 - eta) * anchor + eta * fam.params
        elif (t + 1) % period == 0:
            anchor = fam.params.copy()
            opt = _Adam(fam.params.shape, lr)
            hist_n.append(float(n) ** (len(ends) + 1))
            ends.append(t)
        else:
            continue
        la = fam.log_probs(anchor)
        lt = bon_log(np.exp(la[0]))[None]
    lp = np.stack(lps)
    hist = _metrics(lp, np.stack(lts), np.stack(las), space, beta, quantiles(space.ref_probs, space.rewards)[1])[0]
    hist["bon_equivalent_n"], hist["round_end"] = hist_n, ends
    return np.exp(lp[-1, 0]), hist


def jbond_exact(space: Space, beta: float = 0.5, gamma: float = 0.0, eta: float = 0.05, steps: int = 400,
                lr: float = 0.05, family: str = "tabular"):
    """``train_jbond`` with ``gradient="exact"``: the expected J-BOND objective against an EMA anchor,
    (1 - beta) KL(BoN_2(anchor) || pi) + (beta + gamma) KL(pi || anchor) - beta E_pi[rbar_J]. Returns
    ``(probs (K,), history)``."""
    steps, lr = _check(space, steps, lr)
    beta, eta = V.unit_interval(beta, "beta"), V.unit_interval(eta, "eta")
    if not (float(gamma) >= 0):
        raise ValueError(f"gamma must be >= 0, got {gamma!r}")
    r = space.rewards
    gt = (r[None, :] > r[:, None]).astype(np.float64)                                      # (K, K) r(y') > r(y)
    fam = _Family(family, space, 1)
    anchor, bon2 = fam.params.copy(), _bon_log(r, 2)
    opt, lps, lts, las, lp = _Adam(fam.params.shape, lr), [], [], [], fam.log_probs()
    for _ in range(steps):
        la = fam.log_probs(anchor)                                                         # (1, K)
        lt = bon2(np.exp(la[0]))[None]                                                     # BoN_2 of the anchor
        rbar = -LOG16 * (gt @ np.exp(la[0])) ** 2                                          # (K,)
        p = np.exp(lp)
        g = (1 - beta) * _grad_fwd(lp, lt) + (beta + float(gamma)) * _grad_kl(lp, la) \
            - beta * p * (rbar - (p * rbar).sum(-1, keepdims=True))
        opt.step(fam.params, fam.grad(g))
        lp = fam.log_probs()                                                               # the next step's too
        lps.append(lp)
        lts.append(lt)
        las.append(la)
        anchor = (1 - eta) * anchor + eta * fam.params
    lp = np.stack(lps)
    hist = _metrics(lp, np.stack(lts), np.stack(las), space, beta, quantiles(space.ref_probs, space.rewards)[1])[0]
    return np.exp(lp[-1, 0]), hist
