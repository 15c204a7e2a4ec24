"""Objectives: exact gradients vs finite differences and closed forms; sampled losses vs exact gradients.

Unbiasedness tolerance: over S independent batches of B samples, |mean estimate - exact| <= 5 standard errors
in every coordinate, plus 2/(S*B) (the resolution of a frequency: an outcome too rare to be drawn has SE 0). Where an estimator is NOT unbiased for the exact BOND gradient we test what it
IS unbiased for, and that the gap to the exact BOND gradient is real.
"""
import numpy as np
import pytest
import torch
from scipy import stats

import bondlab as B
from bondlab import objectives as O
from bondlab.divergences import grad_backward_kl_logits, grad_forward_kl_logits, grad_jeffreys_logits

K = 8
REF = np.array([0.05, 0.2, 0.1, 0.15, 0.1, 0.2, 0.15, 0.05])
R = np.array([0.0, 1.0, 1.0, 2.0, 3.0, 3.0, 4.0, 5.0])        # tied levels: term (B) matters
THETA = np.array([0.3, -0.2, 0.5, 0.1, -0.4, 0.2, 0.0, 0.6])   # policy logits
THETA_A = np.array([0.1, 0.0, 0.2, -0.1, 0.3, 0.0, 0.2, 0.1])  # anchor logits
S, BATCH = 3000, 8
_SEEDS = S


def _theta(v=THETA):
    return torch.tensor(v, dtype=torch.float64, requires_grad=True)


def _probs(v):
    return torch.softmax(torch.tensor(v, dtype=torch.float64), -1).numpy()


def _exact_grad(f, v=THETA):
    th = _theta(v)
    f(torch.log_softmax(th, -1)).backward()
    return th.grad.numpy()


def _fd_grad(f, v=THETA, h=1e-6):
    g = np.zeros(K)
    for i in range(K):
        e = np.zeros(K)
        e[i] = h
        fp = float(f(torch.log_softmax(torch.tensor(v + e), -1)))
        fm = float(f(torch.log_softmax(torch.tensor(v - e), -1)))
        g[i] = (fp - fm) / (2 * h)
    return g


def _sampled(loss_of_seed, seeds=S):
    global _SEEDS
    _SEEDS = seeds
    """(mean, standard error) of the gradient of ``loss_of_seed(logp_all, gen, rng)`` over independent seeds."""
    gs = np.empty((seeds, K))
    gen = torch.Generator().manual_seed(7)
    rng = np.random.default_rng(7)
    for s in range(seeds):
        th = _theta()
        loss_of_seed(torch.log_softmax(th, -1), gen, rng).backward()
        gs[s] = th.grad.numpy()
    return gs.mean(0), gs.std(0, ddof=1) / np.sqrt(seeds)


def _assert_unbiased(mean, se, exact):
    assert np.all(np.abs(mean - exact) <= 5 * se + 2 / (_SEEDS * BATCH)), (mean, exact, se)


def _draw(probs, gen, size=BATCH):
    return torch.multinomial(torch.tensor(probs), size, replacement=True, generator=gen)


# ---------------------------------------------------------------- exact path

def test_exact_gradients_match_finite_differences_and_closed_forms():
    pi, tgt = _probs(THETA), B.bon_probs(REF, R, 4)
    lt = torch.tensor(np.log(tgt))
    for beta in (0.0, 0.3, 1.0):
        f = lambda lp, b=beta: O.jeffreys_exact(lp, lt, b)
        g = _exact_grad(f)
        np.testing.assert_allclose(g, _fd_grad(f), atol=1e-7)
        np.testing.assert_allclose(g, grad_jeffreys_logits(pi, tgt, beta), atol=1e-12)
        assert float(f(torch.log_softmax(_theta(), -1)).detach()) == pytest.approx(B.jeffreys(pi, tgt, beta), abs=1e-12)
    la, r = torch.log_softmax(torch.tensor(THETA_A), -1), torch.tensor(R)
    for f in (lambda lp: O.jbond_objective_exact(lp, la, r, 0.5, 1.0),
              lambda lp: O.reinforce_objective_exact(lp, torch.tensor(np.log(REF)), r, 0.3)):
        np.testing.assert_allclose(_exact_grad(f), _fd_grad(f), atol=1e-7)


def test_rlhf_optimum_is_the_stationary_point_and_the_maximum():
    beta_rl = 0.7
    opt = O.rlhf_optimal_probs(REF, R, beta_rl)
    g = _exact_grad(lambda lp: O.reinforce_objective_exact(lp, torch.tensor(np.log(REF)), torch.tensor(R), beta_rl),
                    np.log(opt))
    assert np.abs(g).max() < 1e-12
    val = lambda p: p @ R - beta_rl * B.kl(p, REF)
    rng = np.random.default_rng(0)
    for _ in range(50):  # no random policy does better (a brute-force oracle)
        assert val(rng.dirichlet(np.ones(K))) < val(opt)


# ---------------------------------------------------------------- sampled vs exact

def test_forward_sft_on_true_bon_samples_is_unbiased_ties_included():
    tgt = B.bon_probs(REF, R, 4)
    exact = grad_forward_kl_logits(_probs(THETA), tgt)
    mean, se = _sampled(lambda lp, gen, rng: O.forward_bond_loss(lp[torch.from_numpy(B.sample_bon(REF, R, 4, BATCH, rng))]))
    _assert_unbiased(mean, se, exact)


def test_backward_with_exact_quantiles_is_unbiased_for_the_target_without_term_B():
    n = 4
    _, p_le = B.quantiles(REF, R)
    q = REF * p_le ** (n - 1)
    q /= q.sum()                                            # pi_ref p_le^(N-1) / Z: term (B) dropped
    pi = _probs(THETA)
    exact = grad_backward_kl_logits(pi, q)
    log_ref, log_ple = torch.tensor(np.log(REF)), torch.tensor(np.log(p_le))

    def loss(lp, gen, rng):
        y = _draw(pi, gen)
        return O.backward_bond_loss(lp[y], log_ref[y], log_ple[y], n)
    mean, se = _sampled(loss)
    _assert_unbiased(mean, se, exact)
    # ...and it is NOT the gradient of KL(pi || pi_BoN): with ties, term (B) changes the target.
    true = grad_backward_kl_logits(pi, B.bon_probs(REF, R, n))
    assert np.max(np.abs(mean - true) / (se + 1e-12)) > 10


def test_backward_with_mc_quantiles_targets_the_exp_mean_log_of_the_clamped_estimate():
    """log of an estimated quantile is biased (Jensen) and clamped at 1/(2k): the estimator is unbiased for
    grad KL(pi || q_k), q_k proportional to pi_ref exp((N-1) E[log max(X/k, 1/(2k))]), X ~ Binomial(k, p_le)."""
    n, k = 4, 3
    _, p_le = B.quantiles(REF, R)
    x = np.arange(k + 1)
    e_log = stats.binom.pmf(x[None, :], k, p_le[:, None]) @ np.log(np.maximum(x / k, 1 / (2 * k)))   # (K,)
    q = REF * np.exp((n - 1) * e_log)
    q /= q.sum()
    pi = _probs(THETA)
    log_ref = torch.tensor(np.log(REF))

    def loss(lp, gen, rng):
        y = _draw(pi, gen)
        p_hat = torch.tensor(B_mc(rng, k))
        return O.backward_bond_loss(lp[y], log_ref[y], torch.log(p_hat[y]), n)
    mean, se = _sampled(loss)
    _assert_unbiased(mean, se, grad_backward_kl_logits(pi, q))
    q_exact = REF * p_le ** (n - 1)
    q_exact /= q_exact.sum()
    assert np.max(np.abs(mean - grad_backward_kl_logits(pi, q_exact)) / (se + 1e-12)) > 10   # the bias is real


def B_mc(rng, k):
    from bondlab.quantile_estimates import mc_p_le
    return mc_p_le(REF, R, k, rng)


def test_jbond_sampled_gradient_is_unbiased_for_its_exact_expectation():
    pi, pa = _probs(THETA), _probs(THETA_A)
    la, r = torch.tensor(np.log(pa)), torch.tensor(R)
    for beta, gamma in ((0.5, 1.0), (1.0, 0.0)):
        exact = _exact_grad(lambda lp: O.jbond_objective_exact(lp, la, r, beta, gamma))

        def loss(lp, gen, rng):
            y, y1, y2 = _draw(pi, gen), _draw(pa, gen), _draw(pa, gen)
            best = torch.where(r[y2] > r[y1], y2, y1)
            return O.jbond_loss(lp[y], la[y], r[y], r[y1], r[y2], lp[best], beta, gamma)
        mean, se = _sampled(loss, 2000)
        _assert_unbiased(mean, se, exact)


def test_regulariser_descends_kl_to_the_anchor_and_v1_sign_ascends_it():
    pi, pa = _probs(THETA), _probs(THETA_A)
    la = torch.tensor(np.log(pa))
    exact = grad_backward_kl_logits(pi, pa)                                        # grad KL(pi || pi_anchor)
    for v1, sign in ((False, 1.0), (True, -1.0)):
        mean, se = _sampled(lambda lp, gen, rng: O.kl_regulariser_loss(lp[y := _draw(pi, gen)], la[y], v1_sign=v1), 2000)
        _assert_unbiased(mean, se, sign * exact)
    # one small descent step with a larger gamma leaves the policy closer to the anchor
    r = torch.tensor(R)
    la_t = torch.tensor(np.log(pa))
    kls = []
    for gamma in (0.0, 1.0, 4.0):
        g = _exact_grad(lambda lp: O.jbond_objective_exact(lp, la_t, r, 0.5, gamma))
        kls.append(B.kl(_probs(THETA - 0.05 * g), pa))
    assert kls[0] > kls[1] > kls[2]


def test_reinforce_sampled_gradient_is_unbiased():
    pi = _probs(THETA)
    log_ref, r = torch.tensor(np.log(REF)), torch.tensor(R)
    exact = _exact_grad(lambda lp: O.reinforce_objective_exact(lp, log_ref, r, 0.3))

    def loss(lp, gen, rng):
        y = _draw(pi, gen)
        return O.reinforce_loss(lp[y], log_ref[y], r[y], 0.3)
    mean, se = _sampled(loss, 2000)
    _assert_unbiased(mean, se, exact)


def test_loo_baseline_and_shapes():
    v = torch.tensor([[1.0, 2.0, 6.0], [0.0, 0.0, 3.0]], dtype=torch.float64)
    np.testing.assert_allclose(O.loo_baseline(v).numpy(), [[4.0, 3.5, 1.5], [1.5, 1.5, 0.0]])
    r1 = torch.tensor([1.0, 0.0, 2.0], dtype=torch.float64)
    np.testing.assert_array_equal(O.jbond_reward(torch.tensor([0.5, 0.0, 2.0], dtype=torch.float64), r1, torch.tensor([1.0, 1.0, 3.0], dtype=torch.float64)).numpy(),
                                  [-O.LOG16, 0.0, 0.0])


def test_bad_input_raises_value_error_naming_the_argument():
    lp = torch.zeros(4, dtype=torch.float64)
    with pytest.raises(ValueError, match="log_p_le_hat"):
        O.backward_bond_loss(lp, lp, torch.tensor([0.0, -np.inf, 0.0, 0.0]), 4)
    with pytest.raises(ValueError, match="log_p_le_hat"):
        O.backward_bond_loss(lp, lp, torch.full((4,), 0.5, dtype=torch.float64), 4)
    with pytest.raises(ValueError, match="logp_anchor"):
        O.backward_bond_loss(lp, lp[:3], lp, 4)
    with pytest.raises(ValueError, match="at least 2"):
        O.loo_baseline(torch.zeros(1))
    with pytest.raises(ValueError, match="gamma"):
        O.jbond_loss(lp, lp, lp, lp, lp, lp, 0.5, -1.0)
    with pytest.raises(ValueError, match="beta"):
        O.jeffreys_exact(lp, lp, 1.5)
    with pytest.raises(ValueError, match="beta_rl"):
        O.rlhf_optimal_probs(REF, R, 0.0)
