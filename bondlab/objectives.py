"""BOND objectives as losses over a few per-sample tensors, shared by the toy scale and the LM scale.

Sessa et al. 2024 (arXiv 2407.14622), Sec. 4-5. Every sampled loss here is a *surrogate*: its value is
not the divergence, but its gradient is a (stated) estimate of the divergence's gradient. The tensors are

    logp              (..., B)  log pi(y_i) of policy samples, WITH grad (toy: log pi of an index; LM: a
                                sequence log-prob, the sum of token log-probs)
    logp_anchor       (..., B)  log pi_anchor(y_i) of the same samples, no grad (pi_ref for plain BOND)
    log_p_le_hat      (..., B)  log of the estimated quantile p_hat_le(y_i) under the anchor's reward CDF
    logp_best         (..., B)  log pi(y*) of Best-of-N samples y* drawn from the anchor, WITH grad
    r, r_anchor_*     (..., B)  rewards

The last dimension is the batch of samples that share a baseline (the samples of one prompt at LM scale);
leading dimensions (prompts, or independent seeds in a test) are averaged. The leave-one-out baseline
b_i = mean_{j != i} R_j needs B >= 2; it leaves every estimator unbiased because b_i does not depend on y_i.

p_hat_le = 0: ``bondlab.quantile_estimates.mc_p_le`` clamps p_hat to 1/(2k) (a continuity correction; an outcome
that is itself among the k samples is never 0), and the learned model of ``bondlab.quantile_model``
outputs a sigmoid bounded away from 0. The losses here refuse a log quantile of -inf or NaN with a
ValueError rather than training on it.

The exact path (``*_exact``) takes the same expectations over the whole space, with autograd giving the
exact gradient; tests/test_objectives.py checks each sampled loss against it over many seeds.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from . import _validate as V
from .bon import bon_log_probs_torch

__all__ = [
    "LOG16", "loo_baseline", "forward_bond_loss", "backward_bond_loss", "jeffreys_bond_loss", "jbond_reward",
    "jbond_loss", "kl_regulariser_loss", "reinforce_loss", "forward_kl_exact", "backward_kl_exact", "jeffreys_exact",
    "jbond_objective_exact", "reinforce_objective_exact", "rlhf_optimal_probs",
]

LOG16 = math.log(16.0)  # J-BOND's penalty: E[r_J] = -log16 (1 - p_le)^2 equals log p_le at the median p_le = 1/2


def _t(x, name: str, *, log: bool = False) -> torch.Tensor:
    """A non-empty floating tensor with a batch dimension; finite, or (``log``) a log-law: -inf allowed."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    if x.ndim == 0:
        raise ValueError(f"{name} must have a batch dimension, got a scalar")
    if x.numel() == 0:
        raise ValueError(f"{name} must not be empty, got shape {tuple(x.shape)}")
    if log:
        if torch.isnan(x).any() or (x == float("inf")).any():
            raise ValueError(f"{name} contains NaN or +inf")
        total = torch.logsumexp(x.detach().double(), -1)
        if not (total.abs() <= 1e-3).all():   # loose: float32 log-probs of 10^4 outcomes miss 0 by ~1e-5
            raise ValueError(f"{name} must be normalised log-probabilities (logsumexp 0 within 1e-3)")
    elif not torch.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or inf (clamp p_hat_le = 0 to 1/(2k) before taking its log)")
    return x


def _weight(x, name: str, *, positive: bool = False) -> float:
    """A finite number >= 0 (> 0 with ``positive``): gamma, beta_RL."""
    v = V.scalar(x, name)
    if not math.isfinite(v) or v < 0 or (positive and v == 0):
        raise ValueError(f"{name} must be a finite number {'>' if positive else '>='} 0, got {x!r}")
    return v


def _same(name_a, a, name_b, b):
    if a.shape != b.shape:
        raise ValueError(f"{name_a} {tuple(a.shape)} and {name_b} {tuple(b.shape)} must have the same shape")


def loo_baseline(values: torch.Tensor) -> torch.Tensor:
    """(..., B) -> (..., B): b_i = mean_{j != i} values_j over the last dimension (needs B >= 2), detached."""
    values = _t(values, "values").detach()
    b = values.shape[-1]
    if b < 2:
        raise ValueError(f"values: the leave-one-out baseline needs at least 2 samples in the last dimension, got {b}")
    return (values.sum(-1, keepdim=True) - values) / (b - 1)


def _pg(logp: torch.Tensor, reward: torch.Tensor, baseline: bool) -> torch.Tensor:
    """Policy-gradient surrogate -mean(sg(R - b) * logp): its gradient is -E[grad log pi * R]."""
    reward = reward.detach()
    adv = reward - loo_baseline(reward) if baseline else reward               # (..., B)
    return -(adv * logp).mean()


def forward_bond_loss(logp_best: torch.Tensor) -> torch.Tensor:
    """Forward KL(pi_BoN || pi) by SFT on Best-of-N samples (Sessa et al. 2024, Sec. 4.1, eq. 10).

    logp_best: (..., B) log pi(y*) for y* drawn from the *true* Best-of-N of the anchor. The gradient
    -mean(grad log pi(y*)) is unbiased for grad KL(pi_BoN || pi) = -E_{pi_BoN}[grad log pi], ties included.
    """
    return -_t(logp_best, "logp_best").mean()


def backward_bond_loss(logp: torch.Tensor, logp_anchor: torch.Tensor, log_p_le_hat: torch.Tensor, n: float, *,
                       beta_bond: float | None = None, baseline: bool = True) -> torch.Tensor:
    """Backward KL(pi || pi_BoN) by policy gradient (Sessa et al. 2024, Sec. 4.2, eq. 11-12).

    Per sample, R_i = (N-1) * (log p_hat_le(y_i) - beta_BOND * (log pi(y_i) - log pi_anchor(y_i))) with
    beta_BOND = 1/(N-1), i.e. R_i = (N-1) log p_hat_le(y_i) - (log pi(y_i) - log pi_anchor(y_i)) (this
    form also covers N = 1, where the target is the anchor). The loss -mean(sg(R_i - b_i) log pi(y_i)),
    b_i the leave-one-out baseline, has expected gradient

        -E_pi[grad log pi * R] = grad KL(pi || q),   q proportional to pi_anchor * exp((N-1) E[log p_hat_le]).

    Where this is NOT the exact gradient of KL(pi || pi_BoN):
    - term (B) of Theorem 1 is dropped (q uses p_le^(N-1) only): it matters for the lowest outcomes and
      for tied reward levels; in the continuous limit (B) -> N is a constant and drops out;
    - log of an *estimated* quantile: E[log p_hat] < log p_le (Jensen), so the target is tilted unless
      p_hat_le is exact; the bias shrinks as k grows;
    - the clamp p_hat >= 1/(2k) replaces log 0 = -inf by log(1/(2k)).
    Given exact quantiles the estimate is unbiased for grad KL(pi || pi_anchor p_le^(N-1) / Z).
    """
    logp, logp_anchor, log_p_le_hat = _t(logp, "logp"), _t(logp_anchor, "logp_anchor"), _t(log_p_le_hat, "log_p_le_hat")
    _same("logp", logp, "logp_anchor", logp_anchor)
    _same("logp", logp, "log_p_le_hat", log_p_le_hat)
    if (log_p_le_hat > 1e-12).any():
        raise ValueError("log_p_le_hat must be <= 0 (a quantile lies in (0, 1])")
    n = V.n_real(n)
    log_ratio = (logp - logp_anchor).detach()                                 # (..., B)
    if beta_bond is None:
        reward = (n - 1) * log_p_le_hat - log_ratio                           # (..., B)
    else:
        reward = (n - 1) * (log_p_le_hat - _weight(beta_bond, "beta_bond") * log_ratio)
    if not torch.isfinite(reward).all():
        raise ValueError(f"n = {n:g} is too large: the reward (n - 1) log p_hat_le overflows")
    out = _pg(logp, reward, baseline)
    if not torch.isfinite(out):
        raise ValueError(f"n = {n:g} is too large: the loss overflows")
    return out


def jeffreys_bond_loss(logp_best, logp, logp_anchor, log_p_le_hat, n: float, beta: float, **kw) -> torch.Tensor:
    """J_beta = (1 - beta) forward + beta backward (Sessa et al. 2024, eq. 9); beta = 0.5 in the paper.

    :func:`forward_bond_loss` on ``logp_best`` plus :func:`backward_bond_loss` on the rest (``kw`` goes to
    it); the toy trainer's sampled step (:class:`bondlab.train.BondStep`) is this loss. A term whose weight
    is 0 is not evaluated (a weight 0 must not meet an inf), so at beta = 0 the backward inputs, and at
    beta = 1 ``logp_best``, may be None: no samples need be drawn for them.
    """
    beta = V.unit_interval(beta, "beta")
    n = V.n_real(n)
    if beta == 0:
        return (1 - beta) * forward_bond_loss(logp_best)
    if beta == 1:
        return beta * backward_bond_loss(logp, logp_anchor, log_p_le_hat, n, **kw)
    return (1 - beta) * forward_bond_loss(logp_best) + beta * backward_bond_loss(logp, logp_anchor, log_p_le_hat, n, **kw)


def jbond_reward(r: torch.Tensor, r_anchor_1: torch.Tensor, r_anchor_2: torch.Tensor) -> torch.Tensor:
    """r_J(y) = -log 16 if r(y) < min(r(y'1), r(y'2)) (strictly worse than both anchor samples), else 0 (Alg. 2).

    Its mean over the anchor samples is -log16 (1 - p_le(y))^2, equal to log p_le at the median p_le = 1/2.
    """
    r, r1, r2 = _t(r, "r"), _t(r_anchor_1, "r_anchor_1"), _t(r_anchor_2, "r_anchor_2")
    _same("r", r, "r_anchor_1", r1)
    _same("r", r, "r_anchor_2", r2)
    dt = r.dtype if r.is_floating_point() else torch.float64
    return torch.where(r < torch.minimum(r1, r2), torch.tensor(-LOG16, dtype=dt), torch.tensor(0.0, dtype=dt))


def jbond_loss(logp, logp_anchor, r, r_anchor_1, r_anchor_2, logp_best_anchor, beta: float, gamma: float, *,
               v1_sign: bool = False) -> torch.Tensor:
    """J-BOND, Sessa et al. 2024, Sec. 5, Algorithm 2 (n = 2): one policy sample y, two anchor samples y'1, y'2.

    logp, logp_anchor, r:      (..., B) for y ~ pi: log pi(y) (grad), log pi_anchor(y) (no grad), r(y)
    r_anchor_1, r_anchor_2:    (..., B) rewards of y'1, y'2 ~ pi_anchor
    logp_best_anchor:          (..., B) log pi(argmax_r(y'1, y'2)) WITH grad (first sample wins ties)

    loss = (1 - beta) * [-log pi(y_best)]                                   forward: SFT on the better one
         + beta * [-sg(A) log pi(y)],  A = LOO(r_J(y) - (log pi(y) - log pi_anchor(y)))   backward
         + gamma * [sg(D) log pi(y)],  D = LOO(log pi(y) - log pi_anchor(y))           regulariser

    The regulariser's sign: E_pi[grad log pi * (log pi - log pi_anchor)] = grad KL(pi || pi_anchor), so
    *descending* +gamma * sg(D) log pi lowers the KL to the anchor. arXiv v1 prints the gradient as
    -grad log pi * (log pi - log pi_anchor); descending that *raises* the KL. ``v1_sign=True`` reproduces
    the printed sign for demonstration only (notebook 05 shows the KL to the anchor growing).
    The expected gradient (anchor held fixed) is the exact gradient of :func:`jbond_objective_exact`.
    """
    beta = V.unit_interval(beta, "beta")
    gamma = _weight(gamma, "gamma")
    logp, logp_anchor, best = _t(logp, "logp"), _t(logp_anchor, "logp_anchor"), _t(logp_best_anchor, "logp_best_anchor")
    _same("logp", logp, "logp_anchor", logp_anchor)
    _same("logp", logp, "logp_best_anchor", best)
    r_j = jbond_reward(r, r_anchor_1, r_anchor_2)                             # (..., B)
    _same("logp", logp, "r", r_j)
    log_ratio = (logp - logp_anchor).detach()                                 # (..., B)
    backward = _pg(logp, r_j - log_ratio, baseline=True)
    reg = kl_regulariser_loss(logp, logp_anchor, v1_sign=v1_sign)
    return (1 - beta) * forward_bond_loss(best) + beta * backward + gamma * reg


def kl_regulariser_loss(logp: torch.Tensor, logp_anchor: torch.Tensor, *, v1_sign: bool = False) -> torch.Tensor:
    """Surrogate for KL(pi || pi_anchor) on samples y ~ pi (J-BOND's extra regulariser, Sec. 5).

    loss = mean(sg(D_i - b_i) log pi(y_i)), D = log pi(y) - log pi_anchor(y), b the leave-one-out baseline.
    Its expected gradient is +E_pi[grad log pi * D] = grad KL(pi || pi_anchor) (the term E_pi[grad log pi]
    vanishes), so gradient DESCENT lowers the KL. arXiv v1 prints the gradient as -grad log pi * D;
    descending that raises the KL. ``v1_sign=True`` returns the printed (wrong) sign, for demonstration.
    """
    logp, logp_anchor = _t(logp, "logp"), _t(logp_anchor, "logp_anchor")
    _same("logp", logp, "logp_anchor", logp_anchor)
    reg = -_pg(logp, (logp - logp_anchor).detach(), baseline=True)
    return -reg if v1_sign else reg


def reinforce_loss(logp: torch.Tensor, logp_ref: torch.Tensor, r: torch.Tensor, beta_rl: float) -> torch.Tensor:
    """RLHF baseline: REINFORCE with a leave-one-out baseline on R = r - beta_RL (log pi - log pi_ref).

    Expected gradient: -grad (E_pi[r] - beta_RL KL(pi || pi_ref)), maximised by pi_ref exp(r / beta_RL) / Z
    (:func:`rlhf_optimal_probs`). The paper's baseline (Sec. 6) tries beta_RL in {0.001, 0.01, 0.1, 1}.
    """
    logp, logp_ref, r = _t(logp, "logp"), _t(logp_ref, "logp_ref"), _t(r, "r")
    _same("logp", logp, "logp_ref", logp_ref)
    _same("logp", logp, "r", r)
    beta_rl = _weight(beta_rl, "beta_rl")
    out = _pg(logp, r - beta_rl * (logp - logp_ref).detach(), baseline=True)
    if not torch.isfinite(out):
        raise ValueError(f"beta_rl = {beta_rl:g} is too large: the loss overflows")
    return out


# ------------------------------------------------------------------------------------------------------
# exact path: the same objectives as expectations over the whole (enumerable) space; autograd = exact grad
# ------------------------------------------------------------------------------------------------------

def _kl_t(log_p: torch.Tensor, log_q: torch.Tensor) -> torch.Tensor:
    """KL(p || q) over the last dimension, 0 log 0 = 0."""
    p = torch.exp(log_p)
    terms = torch.where(p > 0, p * (log_p - log_q), torch.zeros_like(p))
    return terms.sum(-1)


def _laws(*named) -> list:
    """Check (name, tensor) pairs of log-laws: floating, non-empty, no NaN / +inf, normalised, one shape."""
    out = [_t(x, name, log=True) for name, x in named]
    for (name, x) in named[1:]:
        _same(named[0][0], out[0], name, x)
    return out


def forward_kl_exact(logp_all: torch.Tensor, log_target: torch.Tensor) -> torch.Tensor:
    """KL(target || pi); logp_all, log_target: (K,) normalised log-probs. Gradient = exact forward gradient.
    +inf where the target has mass and pi has none."""
    logp_all, log_target = _laws(("logp_all", logp_all), ("log_target", log_target))
    return _kl_t(log_target.detach(), logp_all)


def backward_kl_exact(logp_all: torch.Tensor, log_target: torch.Tensor) -> torch.Tensor:
    """KL(pi || target); (K,) each. +inf where pi has mass and the target has none."""
    logp_all, log_target = _laws(("logp_all", logp_all), ("log_target", log_target))
    return _kl_t(logp_all, log_target.detach())


def jeffreys_exact(logp_all: torch.Tensor, log_target: torch.Tensor, beta: float) -> torch.Tensor:
    """J_beta(pi || target) = (1 - beta) KL(target || pi) + beta KL(pi || target) (Sessa et al. 2024, eq. 9)."""
    beta = V.unit_interval(beta, "beta")
    fwd = forward_kl_exact(logp_all, log_target) if beta < 1 else 0.0      # a weight 0 must not meet an inf
    bwd = backward_kl_exact(logp_all, log_target) if beta > 0 else 0.0
    return (1 - beta) * fwd + beta * bwd


def jbond_objective_exact(logp_all: torch.Tensor, logp_anchor_all: torch.Tensor, rewards: torch.Tensor,
                          beta: float, gamma: float) -> torch.Tensor:
    """The expectation of :func:`jbond_loss` over the whole space, anchor held fixed (its gradient is the mean
    sampled J-BOND gradient):

        (1 - beta) KL(BoN_2(pi_anchor) || pi) + beta [KL(pi || pi_anchor) - E_pi[rbar_J]] + gamma KL(pi || pi_anchor)

    with rbar_J(y) = -log16 (P_{y'~pi_anchor}[r(y') > r(y)])^2, the mean J-BOND reward. (K,) tensors in.
    """
    beta = V.unit_interval(beta, "beta")
    gamma = _weight(gamma, "gamma")
    logp_all, la = _laws(("logp_all", logp_all), ("logp_anchor_all", logp_anchor_all))
    rewards = _t(rewards, "rewards")
    _same("logp_all", logp_all, "rewards", rewards)
    if logp_all.ndim != 1:
        raise ValueError(f"logp_all must be 1-D (K,), got shape {tuple(logp_all.shape)}")
    la = la.detach()
    target = bon_log_probs_torch(la, rewards, 2)                              # (K,) BoN_2 of the anchor
    gt = (rewards[None, :] > rewards[:, None]).to(la.dtype)                  # (K, K) [y, y']: r(y') > r(y)
    p_gt = gt @ torch.exp(la)                                                 # (K,)
    rbar = -LOG16 * p_gt ** 2                                                 # (K,)
    kl_a = _kl_t(logp_all, la)
    e_r = (torch.exp(logp_all) * rbar).sum()
    return (1 - beta) * forward_kl_exact(logp_all, target) + beta * (kl_a - e_r) + gamma * kl_a


def reinforce_objective_exact(logp_all: torch.Tensor, logp_ref_all: torch.Tensor, rewards: torch.Tensor,
                              beta_rl: float) -> torch.Tensor:
    """-(E_pi[r] - beta_RL KL(pi || pi_ref)), the loss whose gradient REINFORCE estimates. (K,) tensors in."""
    beta_rl = _weight(beta_rl, "beta_rl")
    logp_all, logp_ref_all = _laws(("logp_all", logp_all), ("logp_ref_all", logp_ref_all))
    rewards = _t(rewards, "rewards")
    _same("logp_all", logp_all, "rewards", rewards)
    out = -(torch.exp(logp_all) * rewards).sum() + beta_rl * _kl_t(logp_all, logp_ref_all.detach())
    if torch.isnan(out):   # pi > 0 where pi_ref = 0 with beta_rl = 0: 0 * inf
        raise ValueError("logp_ref_all is -inf where logp_all has mass: KL(pi || pi_ref) is infinite")
    return out


def rlhf_optimal_probs(ref_probs, rewards, beta_rl) -> np.ndarray:
    """pi_ref exp(r / beta_RL) / Z, the maximiser of E_pi[r] - beta_RL KL(pi || pi_ref) (Sessa et al. 2024, Sec. 3.3)."""
    ref_probs = V.probs(ref_probs)
    rewards = V.rewards(rewards, ref_probs.size)
    beta_rl = _weight(beta_rl, "beta_rl", positive=True)
    with np.errstate(divide="ignore", over="ignore"):
        tilt = rewards / beta_rl
        if not np.isfinite(tilt).all():
            raise ValueError(f"beta_rl = {beta_rl!r} is too small: r / beta_rl overflows")
        logw = np.log(ref_probs) + tilt
    logw -= logw[np.isfinite(logw)].max()
    w = np.exp(logw)
    return w / w.sum()
