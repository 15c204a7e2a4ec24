"""bondlab.lm.jbond_groups against independent oracles: the all-pairs U-statistics by enumerating every draw of
the anchor samples (brute-force Best-of-2), the defaults against today's jbond_batch / jbond_loss, and each
option's expected gradient against the exact objective's autograd gradient on a micro space (Monte Carlo,
tolerance from the measured standard error)."""
import copy
import itertools
import math

import numpy as np
import pytest
import torch

from bondlab.lm.exact import micro_space
from bondlab.lm.jbond import jbond_batch
from bondlab.lm.jbond_groups import (VarianceOptions, jbond_group_batch, jbond_group_loss, pair_reward,
                                     pair_weights, reinforce_group_loss)
from bondlab.lm.policy import LMPolicy
from bondlab.objectives import LOG16, jbond_loss, jbond_objective_exact, reinforce_objective_exact
from helpers import EPS32, enumerate_bon, sum_tol  # tests/helpers.py
from micro_helpers import TOK, micro_gpt, reward_fn  # tests/micro_helpers.py

P = np.array([0.1, 0.3, 0.2, 0.4])        # an anchor law over 4 outcomes
R = np.array([0.0, 1.0, 1.0, 2.0])        # with a tie (outcomes 1 and 2)


@pytest.mark.parametrize("pairs,K", [("first", 1), ("first", 2), ("all", 1), ("all", 2)])
def test_pair_weights_are_unbiased_for_best_of_2(pairs, K):
    m = 2 * K
    expect = np.zeros(4)
    for draw in itertools.product(range(4), repeat=m):                 # every draw of the m anchor samples
        w = pair_weights(torch.tensor(R[list(draw)])[None], pairs)[0].numpy()
        for j, o in enumerate(draw):
            expect[o] += math.prod(P[list(draw)]) * w[j]
    assert np.allclose(expect, enumerate_bon(P, R, 2), rtol=0, atol=1e-14)


@pytest.mark.parametrize("pairs,K", [("first", 1), ("first", 2), ("all", 2), ("all", 3)])
def test_pair_reward_is_unbiased(pairs, K):
    m = 2 * K
    for r_y in (-1.0, 0.0, 1.0, 1.5, 2.0):
        mean = 0.0
        for draw in itertools.product(range(4), repeat=m):
            rj = pair_reward(torch.full((1, K), r_y), torch.tensor(R[list(draw)])[None], pairs)
            mean += math.prod(P[list(draw)]) * float(rj.mean())
        q = P[R > r_y].sum()                                            # P[r(y') > r(y)]
        assert abs(mean - (-LOG16 * q ** 2)) < 1e-13


def test_all_pairs_lower_the_variance():
    """Same samples, same mean, smaller spread of r_J: 4 anchor samples per policy sample (K = 2)."""
    g = np.random.default_rng(0)
    ra = torch.tensor(g.choice(R, size=(20000, 4), p=P))
    r = torch.tensor(g.choice(R, size=(20000, 2), p=P))
    first, alls = pair_reward(r, ra, "first"), pair_reward(r, ra, "all")
    assert float(alls.var()) < 0.8 * float(first.var())


def test_defaults_are_todays_jbond():
    ref = micro_gpt(1)
    policy, anchor = LMPolicy(copy.deepcopy(ref).train(), TOK, 6), LMPolicy(ref, TOK, 6).anchor()
    old = jbond_batch(policy, anchor, [""] * 32, reward_fn, torch.Generator().manual_seed(3))
    new = jbond_group_batch(policy, anchor, [""] * 32, reward_fn, torch.Generator().manual_seed(3), VarianceOptions())
    assert torch.equal(old.y, new.y) and torch.equal(old.r, new.r[:, 0])
    assert torch.equal(old.r_anchor_1, new.ra[:, 0]) and torch.equal(old.r_anchor_2, new.ra[:, 1])
    for beta, gamma in ((0.5, 0.0), (0.3, 1.0)):
        logp = policy.log_prob(old.prompts, old.y)
        logp_best = policy.log_prob(old.prompts, old.y_best)
        want = jbond_loss(logp, old.logp_anchor, old.r, old.r_anchor_1, old.r_anchor_2, logp_best, beta, gamma)
        got = jbond_group_loss(policy, new, beta, gamma, VarianceOptions())
        # float32 sums of 64 sequence log-probs (6 tokens each) of size <= 20, in other orders
        assert abs(float(got.detach()) - float(want.detach())) <= sum_tol(64 * 6, 64 * 6 * 20.0, EPS32) / 64


def _peaky(seed):
    m = micro_gpt(seed).double()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64) * 0.4)
    return m


def _mc_check(loss_fn, exact_loss, model, draws, z=5.0):
    """Mean of ``draws`` sampled gradients against the exact gradient, along three directions (the exact
    gradient's and two random ones): each gap must lie within z standard errors of the sample mean."""
    params = list(model.parameters())
    flat = lambda gs: torch.cat([g.reshape(-1) for g in gs])           # noqa: E731
    g_exact = flat(torch.autograd.grad(exact_loss(), params))
    gen = torch.Generator().manual_seed(11)
    dirs = torch.stack([g_exact / g_exact.norm()] + [torch.randn(g_exact.shape, generator=gen, dtype=torch.float64)
                                                     for _ in range(2)])
    dirs = dirs / dirs.norm(dim=1, keepdim=True)                       # (3, D)
    proj = torch.stack([dirs @ flat(torch.autograd.grad(loss_fn(i), params)) for i in range(draws)])   # (draws, 3)
    mean, se = proj.mean(0), proj.std(0) / math.sqrt(draws)
    assert ((mean - dirs @ g_exact).abs() <= z * se).all(), (mean, dirs @ g_exact, se)
    assert float((dirs[0] @ g_exact).abs()) > 3 * float(se[0])           # the signal is resolved: the test has teeth


@pytest.mark.parametrize("opts", [VarianceOptions(2, "exact", "all"), VarianceOptions(1, "exact", "first"),
                                  VarianceOptions(3, "sample", "all")])
def test_jbond_expected_gradient_is_exact(opts):
    space = micro_space(2)
    pi, anchor_m = _peaky(1), _peaky(2)
    pol, anc = LMPolicy(pi, TOK, 2), LMPolicy(anchor_m, TOK, 2).anchor()
    g = torch.Generator().manual_seed(0)
    beta, gamma = 0.5, 1.0

    def loss(_):
        batch = jbond_group_batch(pol, anc, [""] * 64, reward_fn, g, opts)
        return jbond_group_loss(pol, batch, beta, gamma, opts)

    exact = lambda: jbond_objective_exact(space.log_probs(pi), space.log_probs(anchor_m).detach(),  # noqa: E731
                                          space.rewards, beta, gamma)
    _mc_check(loss, exact, pi, 40)


@pytest.mark.parametrize("kl", ["exact", "sample"])
def test_reinforce_expected_gradient_is_exact(kl):
    space = micro_space(2)
    pi, ref_m = _peaky(1), _peaky(2)
    pol, ref = LMPolicy(pi, TOK, 2), LMPolicy(ref_m, TOK, 2).anchor()
    g = torch.Generator().manual_seed(0)
    loss = lambda _: reinforce_group_loss(pol, ref, [""] * 64, reward_fn, g, 0.5, VarianceOptions(4, kl))[0]  # noqa: E731
    exact = lambda: reinforce_objective_exact(space.log_probs(pi), space.log_probs(ref_m).detach(),  # noqa: E731
                                              space.rewards, 0.5)
    _mc_check(loss, exact, pi, 40)


def test_bad_options():
    with pytest.raises(ValueError, match="kl"):
        VarianceOptions(kl="exactly")
    with pytest.raises(ValueError, match="pairs"):
        VarianceOptions(pairs="some")
    with pytest.raises(ValueError, match="samples_per_prompt"):
        VarianceOptions(samples_per_prompt=0)
    with pytest.raises(ValueError, match="2K"):
        pair_reward(torch.zeros(3, 2), torch.zeros(3, 3))
