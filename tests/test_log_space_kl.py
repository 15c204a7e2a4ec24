"""The toy trainers' KLs to Best-of-n at large n, in log space, against mpmath; and no infinities in histories.

At n = 1000 Best-of-n of a 101-point grid underflows to 0 below the top few outcomes, so KL(pi || pi_BoN)
from probabilities is +inf; in log space it is finite (issue 11: `toy iterative --n 1000` wrote Infinity).
"""
import math

import mpmath as mp
import numpy as np
import pytest
import torch

import bondlab as bl
from bondlab.jbond import IterativeConfig, ToyJBondConfig, train_iterative, train_toy_jbond
from bondlab.spaces import grid_mixture
from bondlab.train import metrics
from helpers import bon_mpmath  # tests/helpers.py

EPS = float(np.finfo(np.float64).eps)
SPACE = grid_mixture(k=41, reward="linear")


@pytest.mark.parametrize("n", [1e3, 1e6])
def test_metrics_kls_match_mpmath_at_large_n(n, rng):
    pi = rng.dirichlet(np.ones(SPACE.x.size) * 2)
    with mp.workdps(60):
        q = bon_mpmath(SPACE.ref_probs, SPACE.rewards, n)
        bwd = float(mp.fsum(mp.mpf(a) * (mp.log(a) - mp.log(b)) for a, b in zip(pi, q)))
        fwd = float(mp.fsum(b * (mp.log(b) - mp.log(a)) for a, b in zip(pi, q) if b > 0))
    assert math.isinf(bl.kl(pi, bl.bon_probs(SPACE.ref_probs, SPACE.rewards, n)))   # what probabilities give
    log_t = bl.bon_log_probs(SPACE.ref_probs, SPACE.rewards, n)
    m = metrics(pi, np.exp(log_t), SPACE, log_policy=np.log(pi), log_target=log_t)
    # log pi_BoN(y) carries (16 + 4K) eps (1 + n |log F(y)|) (tests/test_bon_huge_n.py); a KL weights these
    # by pi (backward) or by pi_BoN (forward), plus K roundings of its sum
    k = SPACE.x.size
    _, p_le = bl.quantiles(SPACE.ref_probs, SPACE.rewards)
    err_log_q = (16 + 4 * k) * EPS * (1 + n * np.abs(np.log(p_le)))          # (K,)
    q_f = np.array([float(b) for b in q])
    assert abs(m["bwd_kl"] - bwd) <= pi @ err_log_q + k * EPS * abs(bwd) * 4
    assert abs(m["fwd_kl"] - fwd) <= q_f @ (err_log_q * (1 + np.abs(log_t - np.log(pi)))) + k * EPS * abs(fwd) * 4
    assert bwd > 100                             # far from 0: a real test of the log form


def test_iterative_and_jbond_histories_are_finite_at_large_n():
    space = grid_mixture(k=101, weights=(0.6, 0.4), reward="linear")
    _, h = train_iterative(space, IterativeConfig(n=1000, rounds=2, period=2, gradient="exact", lr=0.1))
    for key in ("fwd_kl", "bwd_kl", "jeffreys", "kl_ref", "kl_anchor"):
        assert np.isfinite(h[key]).all(), key
    # the first step's backward KL is that of a policy one Adam step from pi_ref: of the order of the
    # log-space KL(pi_ref || BoN_1000(pi_ref)), not infinite
    ref = bl.kl_log(np.log(space.ref_probs), bl.bon_log_probs(space.ref_probs, space.rewards, 1000))
    assert 0.5 * ref < h["bwd_kl"][0] < 1.5 * ref
    _, h = train_toy_jbond(space, ToyJBondConfig(steps=3, gradient="exact"))
    assert all(np.isfinite(h[key]).all() for key in ("fwd_kl", "bwd_kl", "kl_anchor"))


def test_metrics_take_tensors_and_unnormalised_logs():
    pi = SPACE.ref_probs
    log_t = torch.tensor(bl.bon_log_probs(SPACE.ref_probs, SPACE.rewards, 4.0)) + 3.0   # shifted: normalised inside
    m = metrics(pi, torch.exp(log_t - 3.0).numpy(), SPACE, log_policy=torch.tensor(np.log(pi)), log_target=log_t)
    assert m["bwd_kl"] == pytest.approx(bl.kl(pi, bl.bon_probs(pi, SPACE.rewards, 4.0)), rel=1e-12)
    assert m["fwd_kl"] == pytest.approx(bl.bon_kl(pi, SPACE.rewards, 4.0), rel=1e-12)
