"""BondStep, the toy trainer's loss, against the exact Jeffreys objective J_beta, in float64.

- exact path: its gradient is the gradient of J_beta(pi || pi_BoN), checked against the closed-form softmax
  gradient (bondlab.divergences) and central finite differences of the numpy J_beta (bondlab.divergences);
- sampled path: it IS objectives.jeffreys_bond_loss on the step's draws (same draws, same value, same gradient),
  and its mean gradient over many independent steps is unbiased for the exact gradient of
  (1 - beta) KL(pi_BoN || pi) + beta KL(pi || q), q = pi_ref p_le^(N-1) / Z: J_beta with term (B) of
  Theorem 1 dropped from the backward target, as objectives.backward_bond_loss documents.

Unbiasedness tolerance as in tests/test_objectives.py: |mean - exact| <= 5 standard errors + 2/(S*B) per coordinate.
"""
import numpy as np
import pytest
import torch

import bondlab as B
from bondlab import objectives as O
from bondlab.divergences import grad_backward_kl_logits, grad_forward_kl_logits, grad_jeffreys_logits
from bondlab.policies import TabularPolicy
from bondlab.quantile_estimates import mc_p_le
from bondlab.spaces import Space
from bondlab.train import BondConfig, BondStep

K, N = 8, 4
REF = np.array([0.05, 0.2, 0.1, 0.15, 0.1, 0.2, 0.15, 0.05])
R = np.array([0.0, 1.0, 1.0, 2.0, 3.0, 3.0, 4.0, 5.0])        # tied levels: term (B) matters
THETA = np.array([0.3, -0.2, 0.5, 0.1, -0.4, 0.2, 0.0, 0.6])   # policy logits
SPACE = Space(np.linspace(-1.0, 1.0, K), REF, R)
S, BATCH = 2000, 8


def _policy():
    pol = TabularPolicy(REF)
    with torch.no_grad():
        pol.logits.copy_(torch.tensor(THETA))
    return pol


def _step(cfg, objective="jeffreys", beta=0.5, seed=0):
    return BondStep(SPACE, cfg, objective, beta, cfg.n, np.random.default_rng(seed), torch.Generator().manual_seed(seed))


def _grad(step, pol):
    pol.logits.grad = None
    step.loss(pol).backward()
    return pol.logits.grad.numpy().copy()


def _fd_jeffreys(tgt, beta, h=1e-6):
    g = np.zeros(K)
    for i in range(K):
        e = np.zeros(K)
        e[i] = h
        f = lambda th: B.jeffreys(torch.softmax(torch.tensor(th), -1).numpy(), tgt, beta)
        g[i] = (f(THETA + e) - f(THETA - e)) / (2 * h)
    return g


@pytest.mark.parametrize("objective,beta", [("forward", 0.7), ("backward", 0.7), ("jeffreys", 0.0),
                                            ("jeffreys", 0.3), ("jeffreys", 1.0)])
def test_exact_step_gradient_is_the_jeffreys_gradient(objective, beta):
    w = {"forward": 0.0, "backward": 1.0}.get(objective, beta)     # forward / backward ignore beta
    pol, tgt = _policy(), B.bon_probs(REF, R, N)
    g = _grad(_step(BondConfig(gradient="exact", n=N), objective, beta), pol)
    np.testing.assert_allclose(g, grad_jeffreys_logits(pol.probs_np(), tgt, w), atol=1e-12)
    np.testing.assert_allclose(g, _fd_jeffreys(tgt, w), atol=1e-7)   # central differences: error O(h^2) + 1e-16/h


@pytest.mark.parametrize("beta", [0.0, 0.3, 1.0])
def test_sampled_step_is_jeffreys_bond_loss_on_its_draws(beta):
    cfg = BondConfig(gradient="sampled", quantile="mc", k=4, n=N, batch=BATCH)
    pol_a, pol_b = _policy(), _policy()
    step = _step(cfg, beta=beta, seed=3)
    rng, gen = np.random.default_rng(3), torch.Generator().manual_seed(3)
    for _ in range(3):   # the same draws, in the step's order: BoN samples, policy samples, then the k reference samples
        loss_a = step.loss(pol_a)
        logp_best = logp = la = lq = None
        if beta < 1:
            logp_best = pol_b.log_prob(torch.from_numpy(B.sample_bon(step.anchor_probs, R, N, BATCH, rng)))
        if beta > 0:
            y = pol_b.sample(BATCH, gen)
            logp, la = pol_b.log_prob(y), torch.tensor(np.log(step.anchor_probs))[y]
            lq = torch.tensor(np.log(mc_p_le(step.anchor_probs, R, 4, rng)))[y]
        loss_b = O.jeffreys_bond_loss(logp_best, logp, la, lq, N, beta)
        assert loss_a.item() == loss_b.item()
        pol_a.logits.grad = pol_b.logits.grad = None
        loss_a.backward()
        loss_b.backward()
        assert torch.equal(pol_a.logits.grad, pol_b.logits.grad)


@pytest.mark.parametrize("beta", [0.0, 0.3, 1.0])
def test_sampled_step_gradient_is_unbiased_for_jeffreys_without_term_b(beta):
    pol = _policy()
    pi = pol.probs_np()
    _, p_le = B.quantiles(REF, R)
    q = REF * p_le ** (N - 1)
    q /= q.sum()                                                      # pi_ref p_le^(N-1) / Z: term (B) dropped
    exact = (1 - beta) * grad_forward_kl_logits(pi, B.bon_probs(REF, R, N)) + beta * grad_backward_kl_logits(pi, q)
    step = _step(BondConfig(gradient="sampled", quantile="exact", n=N, batch=BATCH), beta=beta, seed=7)
    gs = np.array([_grad(step, pol) for _ in range(S)])              # (S, K): independent draws each call
    mean, se = gs.mean(0), gs.std(0, ddof=1) / np.sqrt(S)
    assert np.all(np.abs(mean - exact) <= 5 * se + 2 / (S * BATCH)), (mean, exact, se)
    if beta > 0:   # ...and with ties that is not J_beta to pi_BoN itself: the gap is many standard errors
        true = grad_jeffreys_logits(pi, B.bon_probs(REF, R, N), beta)
        assert np.max(np.abs(mean - true) / (se + 1e-12)) > 10
