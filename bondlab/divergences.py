"""KL and Jeffreys divergences on finite spaces, and their exact gradients for a softmax policy.

Conventions (nats): kl(p, q) = sum_y p(y) log(p(y)/q(y)), with 0 log 0 = 0 and +inf where p > 0 = q.
Sessa et al. 2024, Sec. 4: J_beta(pi || pi_BoN) = (1 - beta) KL(pi_BoN || pi) + beta KL(pi || pi_BoN);
beta = 0 is forward KL (mode-covering, SFT on Best-of-N samples), beta = 1 backward KL (mode-seeking).
"""
from __future__ import annotations

import numpy as np

from . import _validate as V

__all__ = ["kl", "kl_log", "jeffreys", "entropy", "tv", "grad_forward_kl_logits", "grad_backward_kl_logits",
           "grad_jeffreys_logits"]


def kl_log(log_p, log_q) -> float:
    """KL(p || q) from log-probabilities (-inf allowed): exact for entries far below float64's range."""
    log_p, log_q = V.array(log_p, "log_p"), V.array(log_q, "log_q")
    if log_p.shape != log_q.shape or log_p.ndim != 1 or log_p.size == 0:
        raise ValueError(f"log_p {log_p.shape} and log_q {log_q.shape} must be 1-D of the same non-zero length")
    for name, lp in (("log_p", log_p), ("log_q", log_q)):
        if np.isnan(lp).any() or (lp == np.inf).any():
            raise ValueError(f"{name} contains NaN or +inf")
    total = np.logaddexp.reduce(log_p)
    if not abs(total) <= 1e-3:   # loose: float32 log-probs of 10^4 outcomes miss 0 by ~1e-5
        raise ValueError(f"log_p must be normalised log-probabilities (logsumexp 0 within 1e-3), logsumexp = {total:.3g}")
    live = log_p > -np.inf
    if np.any(log_q[live] == -np.inf):
        return float("inf")
    p = np.exp(log_p[live])
    return max(0.0, float(np.sum(p * (log_p[live] - log_q[live]))))


def kl(p, q) -> float:
    """KL(p || q) in nats; inf where p > 0 and q = 0, and 0 log 0 = 0."""
    p, q = _pair(p, q)
    with np.errstate(divide="ignore"):
        return kl_log(np.log(p), np.log(q))


def jeffreys(policy, target, beta) -> float:
    """J_beta = (1 - beta) KL(target || policy) + beta KL(policy || target) (Sessa et al. 2024, eq. 9)."""
    policy, target = _pair(policy, target, "policy", "target")
    beta = V.unit_interval(beta, "beta")
    fwd = kl(target, policy) if beta < 1 else 0.0
    bwd = kl(policy, target) if beta > 0 else 0.0
    return (1 - beta) * fwd + beta * bwd


def _pair(p, q, name_p: str = "p", name_q: str = "q"):
    """Two probability vectors of one length."""
    p, q = V.probs(p, name_p), V.probs(q, name_q)
    if p.size != q.size:
        raise ValueError(f"{name_p} has length {p.size} but {name_q} has length {q.size}")
    return p, q


def entropy(p) -> float:
    """Shannon entropy in nats."""
    p = V.probs(p, "p")
    live = p > 0
    return float(-np.sum(p[live] * np.log(p[live])))


def tv(p, q) -> float:
    """Total variation distance, half the L1 distance."""
    p, q = _pair(p, q)
    return 0.5 * float(np.abs(p - q).sum())


def grad_forward_kl_logits(policy, target) -> np.ndarray:
    """d KL(target || softmax(theta)) / d theta = policy - target."""
    policy, target = _pair(policy, target, "policy", "target")
    return policy - target


def grad_backward_kl_logits(policy, target) -> np.ndarray:
    """d KL(softmax(theta) || target) / d theta = pi * (log pi - log target - KL(pi || target)).

    Needs target > 0 wherever the policy has mass (else the KL is infinite).
    """
    policy, target = _pair(policy, target, "policy", "target")
    live = policy > 0
    if np.any(target[live] == 0):
        raise ValueError("target is 0 where policy has mass: KL(policy || target) is infinite")
    g = np.zeros_like(policy)
    d = np.log(policy[live]) - np.log(target[live])
    g[live] = policy[live] * (d - np.sum(policy[live] * d))
    return g


def grad_jeffreys_logits(policy, target, beta) -> np.ndarray:
    """Gradient of J_beta in the logits of a softmax policy."""
    beta = V.unit_interval(beta, "beta")
    return (1 - beta) * grad_forward_kl_logits(policy, target) + beta * grad_backward_kl_logits(policy, target)
