"""KL(pi || q) between two autoregressive policies, taken exactly over the vocabulary at each sampled prefix.

J-BOND's backward reward holds -(log pi(y) - log pi_anchor(y)) and its regulariser gamma KL(pi || pi_anchor);
REINFORCE's reward holds -beta_RL (log pi(y) - log pi_ref(y)). Each is a one-sample estimate of a sequence
KL. With a 65-word vocabulary the next-token law of both models is at hand at every prefix, so the KL of each
step can be summed over the vocabulary instead of read off the one token that was sampled (Rao-Blackwell).

Notation: y ~ pi(. | x) a completion of T tokens, y_<t its prefix, and per sampled prefix

    k_t(y_<t) = KL(pi(. | x, y_<t) || q(. | x, y_<t)) = sum_v pi(v | y_<t) (log pi(v | y_<t) - log q(v | y_<t)).

Value. By the chain rule, KL(pi || q) over whole sequences = E_{y ~ pi}[sum_t k_t(y_<t)].

Gradient (the derivation the surrogate below implements). Write K(theta) = E_{y ~ pi_theta}[sum_t k_t(y_<t; theta)].
Both the law of the prefixes and each k_t depend on theta, so

    grad K = E_y[sum_t grad k_t(y_<t)]                                   (1) the direct path, through the vocabulary
           + E_y[grad log pi(y) * sum_t k_t(y_<t)]                        (2) the score path, through the prefixes.

In (2), grad log pi(y) = sum_s grad log pi(y_s | y_<s). A pair (s, t) with s >= t vanishes in expectation:
k_t(y_<t) is fixed once y_<s is, and E[grad log pi(y_s | y_<s) | y_<s] = sum_v grad pi(v | y_<s) = 0. Only the
steps before t remain, so

    (2) = E_y[sum_s grad log pi(y_s | y_<s) * G_s],    G_s = sum_{t > s} k_t(y_<t)   (the KL still to come).

Any b_s that does not depend on y (here the mean of G_s over the *other* samples of the same group, the
leave-one-out baseline) may be subtracted from G_s without bias. The surrogate

    L(y) = sum_t k_t(y_<t)  +  sum_s sg(G_s - b_s) log pi(y_s | y_<s)          (sg: stop-gradient)

therefore has E_y[grad L] = grad KL(pi || q), with q held fixed, and its value's mean is the KL itself. Two
tempting shortcuts are biased: the direct path alone (1) (it ignores that pi moves the prefixes; tests show
the gap on the micro space), and (1) plus sg(sum_t k_t) log pi(y) without the causal cut (unbiased, but it
multiplies each step's score by KL already spent: more variance for nothing). Compare the single-sample
estimator of ``bondlab.objectives``: sg(log pi(y) - log pi_anchor(y)) log pi(y), whose per-step terms are
log-ratios of the sampled tokens instead of k_t (Tang & Munos 2025, "On a few pitfalls in KL divergence
gradient estimation for RL", make the same distinction).

Shapes: a group is the samples that share a baseline (the K samples of one prompt; or, with one sample per
prompt, the whole batch): logp, logq are (..., K, T, V), y and mask (..., K, T). tests/test_token_kl.py
checks the expected gradient against autograd on the exact sequence KL of the micro space, by enumeration.
"""
from __future__ import annotations

import torch

__all__ = ["vocab_kl", "kl_to_go", "kl_surrogate"]


def _check(logp, logq, y, mask):
    for name, t in (("logp", logp), ("logq", logq)):
        if not isinstance(t, torch.Tensor) or not t.is_floating_point() or t.ndim < 2:
            raise ValueError(f"{name} must be a floating tensor (..., T, V) of next-token log-probabilities")
    if logp.shape != logq.shape:
        raise ValueError(f"logp {tuple(logp.shape)} and logq {tuple(logq.shape)} must have one shape")
    if mask.shape != logp.shape[:-1] or mask.dtype != torch.bool:
        raise ValueError(f"mask must be a bool tensor of shape {tuple(logp.shape[:-1])}, got {tuple(mask.shape)}")
    if y is not None and (y.shape != mask.shape or y.dtype != torch.long):
        raise ValueError(f"y must be a long tensor of shape {tuple(mask.shape)}, got {tuple(y.shape)}")


def vocab_kl(logp: torch.Tensor, logq: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(..., T) k_t = KL(pi(. | y_<t) || q(. | y_<t)) over the last (vocabulary) dimension, 0 where ``mask`` is
    False; differentiable in ``logp`` (``logq`` is detached). Tokens with pi = 0 (log-prob -inf, e.g. never
    emitted) count 0 and pass no NaN to the gradient; q = 0 where pi > 0 gives +inf."""
    _check(logp, logq, None, mask)
    logq = logq.detach()
    live = torch.isfinite(logp.detach())                                          # (..., T, V)
    lp = logp.masked_fill(~live, 0.0)                                            # safe inputs: no -inf - -inf
    lq = logq.masked_fill(~live, 0.0)
    terms = (lp.exp() * (lp - lq)).masked_fill(~live, 0.0).sum(-1)               # (..., T)
    return terms.masked_fill(~mask, 0.0)


def kl_to_go(k: torch.Tensor) -> torch.Tensor:
    """(..., T) -> (..., T): G_s = sum_{t > s} k_t, the KL still to come after step s (detached)."""
    k = k.detach()
    return k.flip(-1).cumsum(-1).flip(-1) - k


def kl_surrogate(logp: torch.Tensor, logq: torch.Tensor, y: torch.Tensor, mask: torch.Tensor, *,
                 baseline: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Surrogate for KL(pi || q) over sequences, per-prefix exact over the vocabulary (module doc).

    logp, logq: (..., K, T, V) next-token log-laws of pi (with grad) and q along the samples y (..., K, T) ~ pi;
    mask (..., K, T) True on the tokens that count. Returns ``(surrogate, kl)``, both (..., K): per sample,
    sum_t k_t + sum_s sg(G_s - b_s) log pi(y_s | y_<s) (b: leave-one-out mean over the K samples of a group,
    needs K >= 2; ``baseline=False``: b = 0), whose mean is the loss; and the detached KL sum_t k_t."""
    _check(logp, logq, y, mask)
    k = vocab_kl(logp, logq, mask)                                                # (..., K, T)
    go = kl_to_go(k)                                                              # (..., K, T)
    if baseline:
        n = go.shape[-2]
        if n < 2:
            raise ValueError(f"the leave-one-out baseline needs at least 2 samples per group, got K = {n}")
        go = go - (go.sum(-2, keepdim=True) - go) / (n - 1)                      # (..., K, T)
    logp_tok = torch.gather(logp, -1, y.unsqueeze(-1)).squeeze(-1).masked_fill(~mask, 0.0)   # (..., K, T)
    per_seq = k.sum(-1) + (go.masked_fill(~mask, 0.0) * logp_tok).sum(-1)        # (..., K)
    return per_seq, k.detach().sum(-1)
